"""Kubernetes quantities: ``ParseQuantity`` syntax, exact values, and the ``AsInt64`` rule.

Cases follow ``k8s.io/apimachinery/pkg/api/resource/quantity_test.go`` where they matter to the
Memory Manager: only quantities kept in the int64 fast path survive ``AsInt64``.
"""

from __future__ import annotations

from fractions import Fraction

import pytest

from allocator.errors import InputError
from allocator.quantities import (
    QuantityError,
    as_int64,
    format_quantity,
    parse_k8s_quantity,
    parse_quantity,
    quantity_from_json,
)

GI = 1 << 30
MI = 1 << 20

PARSE_CASES = [
    # (text, exact value, AsInt64 result or None when the kubelet's conversion fails)
    ("1Gi", GI, GI),
    ("1536Mi", 1536 * MI, 1536 * MI),
    ("1073741824", GI, GI),
    ("500M", 500_000_000, 500_000_000),
    ("1.5G", 1_500_000_000, 1_500_000_000),
    ("1e9", 1_000_000_000, 1_000_000_000),
    ("1E3", 1000, 1000),
    ("+1Ki", 1024, 1024),
    ("0", 0, 0),
    ("007", 7, 7),
    ("1.", 1, 1),
    ("10Ti", 10 << 40, 10 << 40),
    # A binary suffix with a fraction is kept as an inf.Dec: AsInt64 fails although the value is whole.
    ("1.5Gi", 3 * GI // 2, None),
    # Too many digits for the binary fast path: an inf.Dec again.
    ("100Ti", 100 << 40, None),
    # Negative decimal scales fail AsInt64 even for whole values.
    ("1.0", 1, None),
    ("1500m", Fraction(3, 2), None),
    ("500m", Fraction(1, 2), None),
    ("12e-1", Fraction(6, 5), None),
]


@pytest.mark.parametrize(("text", "value", "int64"), PARSE_CASES, ids=[c[0] for c in PARSE_CASES])
def test_parse_k8s_quantity_value_and_int64(text: str, value: int | Fraction, int64: int | None) -> None:
    quantity = parse_k8s_quantity(text)
    assert quantity.value == value
    assert as_int64(quantity) == int64


@pytest.mark.parametrize("text", ["", "abc", "1Gx", "1 Gi", "1e", "1.5.5", "--1", "1Gi ", "Mi1"])
def test_malformed_quantities_do_not_parse(text: str) -> None:
    with pytest.raises(QuantityError):
        parse_k8s_quantity(text)


def test_a_value_finer_than_a_nanounit_is_rounded_up_like_the_kubelet() -> None:
    # Values finer than 1n take the inf.Dec path, which rounds away from zero at 9 decimals.
    assert parse_k8s_quantity("0.0000000001").value == Fraction(1, 10**9)
    assert parse_k8s_quantity("0.0000000001Ki").value == Fraction(103, 10**9)  # 1.024e-7 rounded up
    assert parse_k8s_quantity("-0.0000000001").value == Fraction(-1, 10**9)


def test_json_numbers_decode_like_quoted_strings() -> None:
    assert quantity_from_json(1073741824, "x").int64 == GI
    assert quantity_from_json("  2Gi ", "x").int64 == 2 * GI


@pytest.mark.parametrize("bad", [None, True, [], {}])
def test_json_values_that_are_not_quantities_name_their_path(bad: object) -> None:
    with pytest.raises(InputError) as info:
        quantity_from_json(bad, "pod.spec.containers[0].resources.requests.memory")
    assert info.value.path == "pod.spec.containers[0].resources.requests.memory"


def test_parse_quantity_for_machine_fields_gives_whole_bytes() -> None:
    assert parse_quantity("64Gi", "machine.numa_nodes[0].memory") == 64 * GI
    assert parse_quantity(68719476736, "machine.numa_nodes[0].memory") == 64 * GI
    for bad in ("500m", "-1Gi", "lots"):
        with pytest.raises(InputError) as info:
            parse_quantity(bad, "machine.numa_nodes[1].memory")
        assert info.value.path == "machine.numa_nodes[1].memory"


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0"),
        (3 * GI, "3Gi"),
        (1636 * MI, "1636Mi"),
        (1536 * MI, "1536Mi"),
        (12, "12"),
        (1500, "1500"),
        (64 * MI, "64Mi"),
        (1 << 60, "1Ei"),
    ],
)
def test_format_quantity_uses_the_largest_exact_binary_suffix(size: int, text: str) -> None:
    assert format_quantity(size) == text
