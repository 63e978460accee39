"""Table-driven tests of allocator.bitmask, modelled on the kubelet's bitmask_test.go."""

from __future__ import annotations

from itertools import combinations

import pytest

from allocator.bitmask import (
    all_masks,
    any_set,
    ids_of,
    is_less_than,
    is_narrower_than,
    is_set,
    iterate_masks,
    mask_count,
    mask_of,
    mask_string,
)


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([], 0),
        ([0], 0b1),
        ([1, 0], 0b11),
        ([2, 5], 0b100100),
        ([63], 1 << 63),
        ([0, 0, 3], 0b1001),
    ],
)
def test_mask_of(ids: list[int], expected: int) -> None:
    assert mask_of(ids) == expected
    assert ids_of(expected) == sorted(set(ids))
    assert mask_count(expected) == len(set(ids))


@pytest.mark.parametrize("bad", [-1, 64, 100])
def test_mask_of_out_of_range(bad: int) -> None:
    with pytest.raises(ValueError, match="bit number must be in range 0-63"):
        mask_of([0, bad])


@pytest.mark.parametrize(
    ("a", "b", "narrower"),
    [
        ([0], [1], True),  # same count: lower bits win
        ([1], [0], False),
        ([0, 1], [0], False),  # more bits is never narrower
        ([3], [0, 1], True),
        ([0, 3], [1, 2], False),  # 0b1001 > 0b0110
        ([1, 2], [0, 3], True),
        ([0, 1], [0, 1], False),  # equal masks are not narrower
    ],
)
def test_is_narrower_than(a: list[int], b: list[int], narrower: bool) -> None:
    assert is_narrower_than(mask_of(a), mask_of(b)) is narrower


def test_is_set_and_any_set() -> None:
    m = mask_of([1, 4])
    assert is_set(m, 1) and is_set(m, 4)
    assert not is_set(m, 0) and not is_set(m, 64) and not is_set(m, -1)
    assert any_set(m, [0, 4])
    assert not any_set(m, [0, 2, 3])
    assert is_less_than(mask_of([0, 1]), mask_of([2]))


@pytest.mark.parametrize(
    ("mask", "expected"),
    # Go compares with ">" so an exact power of four keeps the narrower width: 4 -> "100".
    [(0, "00"), (1, "01"), (3, "11"), (4, "100"), (5, "0101"), (1 << 8, "100000000"), (0b10001, "010001")],
)
def test_mask_string(mask: int, expected: str) -> None:
    assert mask_string(mask) == expected


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        ([0], [[0]]),
        ([0, 1], [[0], [1], [0, 1]]),
        ([0, 1, 2], [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]),
        (
            [0, 2, 4, 6],
            [
                [0],
                [2],
                [4],
                [6],
                [0, 2],
                [0, 4],
                [0, 6],
                [2, 4],
                [2, 6],
                [4, 6],
                [0, 2, 4],
                [0, 2, 6],
                [0, 4, 6],
                [2, 4, 6],
                [0, 2, 4, 6],
            ],
        ),
    ],
)
def test_iterate_masks_order(ids: list[int], expected: list[list[int]]) -> None:
    assert [ids_of(m) for m in iterate_masks(ids)] == expected


@pytest.mark.parametrize("n", [1, 4, 9, 16])
def test_iterate_masks_counts_and_order(n: int) -> None:
    ids = list(range(n))
    masks = list(iterate_masks(ids))
    assert len(masks) == 2**n - 1
    assert len(set(masks)) == len(masks)
    # Sizes never decrease; within one size, lexicographic order of the id lists.
    sizes = [m.bit_count() for m in masks]
    assert sizes == sorted(sizes)
    for size in (1, 2, n):
        same = [ids_of(m) for m in masks if m.bit_count() == size]
        assert same == [list(c) for c in combinations(ids, size)]


def test_all_masks_is_cached_and_immutable() -> None:
    assert all_masks((0, 1, 2)) is all_masks((0, 1, 2))
    assert isinstance(all_masks((0, 1)), tuple)
