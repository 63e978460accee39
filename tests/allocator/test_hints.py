"""Tests of allocator.hints.TopologyHint (kubelet TopologyHint.IsEqual / LessThan and the JSON shape)."""

from __future__ import annotations

import dataclasses

import pytest

from allocator.bitmask import mask_of
from allocator.hints import TopologyHint, hints_to_json


def h(ids: list[int] | None, preferred: bool) -> TopologyHint:
    return TopologyHint(None if ids is None else mask_of(ids), preferred)


@pytest.mark.parametrize(
    ("hint", "expected"),
    [
        (h([0], True), {"numa_affinity": [0], "preferred": True}),
        (h([3, 1], False), {"numa_affinity": [1, 3], "preferred": False}),
        (h(None, True), {"numa_affinity": None, "preferred": True}),
        (h([10, 9, 11], True), {"numa_affinity": [9, 10, 11], "preferred": True}),
    ],
)
def test_json_round_trip(hint: TopologyHint, expected: dict) -> None:
    assert hint.to_json() == expected
    assert TopologyHint.from_json(expected) == hint


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (h([0], True), h([0], True), True),
        (h([0], True), h([0], False), False),
        (h([0], True), h([1], True), False),
        (h(None, True), h(None, True), True),
        (h(None, True), h([0], True), False),
    ],
)
def test_is_equal(a: TopologyHint, b: TopologyHint, equal: bool) -> None:
    assert a.is_equal(b) is equal
    assert (a == b) is equal


@pytest.mark.parametrize(
    ("a", "b", "less"),
    [
        (h([0, 1], True), h([0], False), True),  # preferred first, whatever the width
        (h([0], False), h([0, 1], True), False),
        (h([0], True), h([0, 1], True), True),
        (h([1], True), h([0], True), False),
        (h([0], True), h([1], True), True),
    ],
)
def test_less_than(a: TopologyHint, b: TopologyHint, less: bool) -> None:
    assert a.less_than(b) is less


def test_frozen_and_hashable() -> None:
    hint = h([0], True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        hint.preferred = False  # type: ignore[misc]
    assert len({hint, h([0], True), h([1], True)}) == 2
    assert hints_to_json(None) is None
    assert hints_to_json([hint]) == [{"numa_affinity": [0], "preferred": True}]
