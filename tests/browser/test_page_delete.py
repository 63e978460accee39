"""Deleting a pod from the pods list frees its memory."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import guaranteed_pod, machine, node_attribute
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_deleting_a_pod_frees_its_blocks_and_adds_a_remove_event(browsing: Any) -> None:
    steps = [{"op": "admit", "pod": guaranteed_pod("short-lived", {"app": {"memory": "2Gi"}})}]
    scenario = browsing.create(machine("8Gi", "8Gi", steps=steps))
    initial_free = scenario.created["state"]["0"]["memory"]["free"] + 2 * 1024**3
    page = browsing.open(scenario)
    expect(page.locator("svg.machine .block[data-pod='short-lived']")).to_have_count(1)

    page.click("[data-delete='short-lived']")

    expect(page.locator(".pod[data-pod-name='short-lived']")).to_have_count(0)
    expect(page.locator("svg.machine .block")).to_have_count(0)
    expect(page.locator("#events .event[data-op='remove']")).to_have_count(1)
    assert node_attribute(page, 0, "data-free-memory") == initial_free
    view = browsing.get(f"/api/v1/scenarios/{scenario.id}")
    assert view["pods"] == []
