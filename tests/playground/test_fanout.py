"""The delta of an event message: which pods' blocks changed (playground/fanout.py)."""

from __future__ import annotations

from typing import Any

import pytest

from playground import fanout


def block(node: int, size: int) -> dict[str, Any]:
    return {"numaAffinity": [node], "type": "memory", "size": size}


A = {"app": [block(0, 64)]}
B = {"app": [block(1, 64)]}
C = {"app": [block(2, 64)]}


@pytest.mark.parametrize(
    ("previous", "entries", "skip", "changed"),
    [
        ({"a": A, "b": B}, {"a": A, "b": B}, set(), {}),  # nothing moved
        ({"a": A}, {"a": A, "c": C}, {"c"}, {}),  # the added pod travels in pods_added
        ({"a": A}, {"a": A, "c": C}, set(), {"c": {"app": [fanout.services.block_view(block(2, 64))]}}),
        ({"a": A, "b": B}, {"a": A}, set(), {"b": {}}),  # a removed pod's blocks are gone
        ({"a": A, "b": B}, {"a": A}, {"b"}, {}),
        ({"a": A}, {"a": {"app": [block(0, 64)]}}, set(), {}),  # rendered again, but equal
        (
            {"a": A},
            {"a": {"app": [block(0, 128)]}},
            set(),
            {"a": {"app": [fanout.services.block_view(block(0, 128))]}},
        ),
        ({"a": A, "b": B}, {"b": B, "c": C}, {"c"}, {"a": {}}),  # one out, one in: same count
    ],
)
def test_changed_blocks_names_exactly_the_pods_whose_blocks_changed(
    previous: fanout.Entries, entries: fanout.Entries, skip: set[str], changed: dict[str, Any]
) -> None:
    assert fanout.changed_blocks(previous, entries, skip) == {
        "containers": changed,
        "containers_complete": False,
    }


def test_without_the_previous_version_every_pod_is_listed() -> None:
    assert fanout.changed_blocks(None, {"a": A, "c": C}, {"c"}) == {
        "containers": {"a": {"app": [fanout.services.block_view(block(0, 64))]}},
        "containers_complete": True,
    }
