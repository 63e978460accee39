"""Kubernetes quantities: ``ParseQuantity`` syntax, exact values, and the ``AsInt64`` rule.

Cases follow ``k8s.io/apimachinery/pkg/api/resource/quantity_test.go`` where they matter to the
Memory Manager: only quantities kept in the int64 fast path survive ``AsInt64``.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest

from allocator.errors import InputError
from allocator.quantities import (
    MAX_INT64,
    MAX_QUANTITY_DIGITS,
    HugeValue,
    QuantityError,
    as_int64,
    format_quantity,
    parse_k8s_quantity,
    parse_quantity,
    quantity_from_json,
    signed_bytes,
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
    # int64Amount.AsInt64 refuses any negative scale, even for zero; a zero with a huge scale is 0.
    ("0.0", 0, None),
    ("0e40000000", 0, 0),
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


# --- hostile sizes: never build huge integers, refuse what no kubelet field can hold -------------

HUGE_VALUE_CASES = [
    # (text, sign of the value) -- Go keeps these as an inf.Dec with a huge negative scale.
    ("1e40000000", 1),
    ("-1e40000000", -1),
    ("1e2147483647", 1),
    # int32 scale arithmetic wraps in Go: -2147483648 - len(denom) becomes a huge positive scale.
    ("1.5e-2147483648", 1),
]


@pytest.mark.parametrize(("text", "sign"), HUGE_VALUE_CASES, ids=[c[0] for c in HUGE_VALUE_CASES])
def test_a_huge_exponent_is_kept_as_a_scale_and_fails_as_int64(text: str, sign: int) -> None:
    quantity = parse_k8s_quantity(text)
    assert isinstance(quantity.value, HugeValue)
    assert quantity.sign() == sign
    assert as_int64(quantity) is None
    # Compares exactly with ordinary values and with itself, but refuses to become an int.
    assert quantity.value != MAX_INT64
    assert (quantity.value > 10**100) == (sign > 0)
    assert quantity.value == parse_k8s_quantity(text).value
    with pytest.raises(OverflowError):
        int(quantity.value)


def test_huge_values_with_different_exponents_differ_like_go_decimals() -> None:
    # QoS compares requests with limits: the kubelet sees 1e40000000 and 1e40000001 as different.
    assert parse_k8s_quantity("1e40000000").value != parse_k8s_quantity("1e40000001").value
    assert parse_k8s_quantity("10e40000000").value == parse_k8s_quantity("1e40000001").value


@pytest.mark.parametrize("text", ["1e-40000000", "1e-2147483647", "0." + "0" * 4000 + "1"])
def test_a_tiny_value_rounds_up_to_one_nanounit_without_building_its_denominator(text: str) -> None:
    quantity = parse_k8s_quantity(text)
    assert quantity.value == Fraction(1, 10**9)
    assert as_int64(quantity) is None


def test_decimal_values_beyond_int64_are_exact_and_binary_ones_capped_like_parse_quantity() -> None:
    # ParseQuantity caps only BinarySI amounts at MaxInt64; decimal ones keep their exact value.
    assert parse_k8s_quantity("1e400").value == 10**400
    assert parse_k8s_quantity(str(2**64)).value == 2**64
    assert parse_k8s_quantity("8Ei").value == MAX_INT64
    assert parse_k8s_quantity("8Ei").saturated
    assert parse_k8s_quantity("99999999999999999999999Ei").value == MAX_INT64
    assert not parse_k8s_quantity("7Ei").saturated
    # 19 written digits leave the int64 fast path (maxInt64Factors is 18), even for MaxInt64 itself.
    for text in ("1e400", "8Ei", str(2**63), str(MAX_INT64), "99999999999999999999999Ei", "1e19", "10E18"):
        assert as_int64(parse_k8s_quantity(text)) is None, text


@pytest.mark.parametrize(
    ("text", "int64"),
    [("1e18", 10**18), ("9e18", 9 * 10**18), ("999999999999999999", 10**18 - 1), ("-1e18", -(10**18))],
)
def test_the_int64_fast_path_holds_up_to_the_int64_bounds(text: str, int64: int) -> None:
    assert as_int64(parse_k8s_quantity(text)) == int64


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1e" + "0" * 5000 + "3", 1000),  # ParseInt reads any number of leading zeros
        ("1e9223372036854775807", Fraction(1, 10)),  # the int64 exponent truncated to int32: -1
    ],
)
def test_the_exponent_is_read_like_strconv_parse_int_then_truncated_to_int32(
    text: str, value: int | Fraction
) -> None:
    assert parse_k8s_quantity(text).value == value


@pytest.mark.parametrize("text", ["1e9223372036854775808", "1e-9223372036854775809", "1e" + "9" * 5000])
def test_an_exponent_beyond_int64_is_a_suffix_error(text: str) -> None:
    with pytest.raises(QuantityError, match="suffix"):
        parse_k8s_quantity(text)


def test_the_most_digits_read_is_a_limit_of_the_written_number() -> None:
    assert parse_k8s_quantity("1" * MAX_QUANTITY_DIGITS).value == int("1" * MAX_QUANTITY_DIGITS)
    for text in (
        "1" * (MAX_QUANTITY_DIGITS + 1),
        "1" * 5000 + "Gi",
        "1." + "0" * 5000,
        "9" * 100_000 + "e-99999",
    ):
        with pytest.raises(QuantityError, match="digits"):
            parse_k8s_quantity(text)


def test_an_integer_with_too_many_digits_is_an_input_error_naming_its_path() -> None:
    with pytest.raises(InputError) as info:
        quantity_from_json(10**5000, "pod.spec.containers[0].resources.requests.memory")
    assert info.value.path == "pod.spec.containers[0].resources.requests.memory"
    assert len(info.value.message) < 200, "hostile input is not echoed in full"


@pytest.mark.parametrize(
    "value",
    ["1e400", str(2**64), 2**70, "8Ei", "16Ei", "1e40000000", 1e300, "9223372036854775808", "1" * 5000],
)
def test_a_machine_quantity_beyond_int64_is_an_input_error_naming_the_field(value: object) -> None:
    with pytest.raises(InputError) as info:
        parse_quantity(value, "machine.numa_nodes[0].memory")  # type: ignore[arg-type]
    assert info.value.path == "machine.numa_nodes[0].memory"
    assert len(info.value.message) < 200


def test_a_machine_quantity_up_to_int64_is_whole_bytes() -> None:
    assert parse_quantity("9223372036854775807", "m") == MAX_INT64
    assert parse_quantity("7Ei", "m") == 7 << 60
    assert parse_quantity("1e18", "m") == 10**18
    with pytest.raises(InputError):
        parse_quantity("1e-40000000", "m")


@pytest.mark.parametrize(
    ("value", "expected"), [("500m", 1), ("-1Gi", -GI), ("-500m", 0), (7, 7), ("1e18", 10**18)]
)
def test_signed_bytes_reads_a_configuration_quantity_like_value(value: object, expected: int) -> None:
    assert signed_bytes(value, "kubelet.kube_reserved.memory") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["1e400", "-1e400", "8Ei", "1e40000000", 2**64])
def test_signed_bytes_refuses_a_configuration_quantity_beyond_int64(value: object) -> None:
    with pytest.raises(InputError) as info:
        signed_bytes(value, "kubelet.kube_reserved.memory")  # type: ignore[arg-type]
    assert info.value.path == "kubelet.kube_reserved.memory"


def test_a_huge_value_read_from_a_field_refuses_to_become_bytes_naming_that_field() -> None:
    value = quantity_from_json("1e5000", "kubelet.kube_reserved.memory").value
    with pytest.raises(InputError) as info:
        math.ceil(value)
    assert info.value.path == "kubelet.kube_reserved.memory"
    # The cached parse is shared by every field: it stays unlocated.
    with pytest.raises(OverflowError):
        math.ceil(parse_k8s_quantity("1e5000").value)


def test_a_huge_value_takes_no_part_in_arithmetic() -> None:
    value = parse_k8s_quantity("1e40000000").value
    for operation in (lambda: value + 1, lambda: value / Fraction(10), lambda: Fraction(1) * value):
        with pytest.raises(QuantityError):
            operation()
