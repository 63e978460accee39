"""Time travel: stepping back shows the state of an earlier version, read-only."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import blocks_in_picture, guaranteed_pod, machine, node_attribute
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_stepping_back_shows_the_old_state_and_forward_returns_to_live(browsing: Any) -> None:
    steps = [
        {"op": "admit", "pod": guaranteed_pod("one", {"app": {"memory": "2Gi"}})},
        {"op": "admit", "pod": guaranteed_pod("two", {"app": {"memory": "3Gi"}})},
    ]
    scenario = browsing.create(machine("16Gi", "16Gi", steps=steps))
    page = browsing.open(scenario)
    expect(page.locator("svg.machine .block")).to_have_count(2)
    live_version = scenario.created["version"]

    page.click("#step-back")
    expect(page.locator("body")).to_have_attribute("data-past", "true")
    expect(page.locator("body")).to_have_attribute("data-viewing-version", str(live_version - 1))
    past = browsing.get(f"/api/v1/scenarios/{scenario.id}/state?version={live_version - 1}")
    assert {b["pod"] for b in blocks_in_picture(page)} == {"one"}
    for numa_id, table in past["state"].items():
        assert node_attribute(page, int(numa_id), "data-free-memory") == table["memory"]["free"]
    expect(page.locator(".past-banner")).to_be_visible()
    expect(page.locator(".pod[data-pod-name='two']")).to_have_count(0)

    # The first event: nothing admitted yet.
    page.click("#events .event[data-op='create']")
    expect(page.locator("svg.machine .block")).to_have_count(0)

    page.click("#back-to-live")
    expect(page.locator("body")).to_have_attribute("data-past", "false")
    expect(page.locator("svg.machine .block")).to_have_count(2)


def test_forking_from_a_past_version_starts_from_that_state(browsing: Any) -> None:
    steps = [
        {"op": "admit", "pod": guaranteed_pod("one", {"app": {"memory": "2Gi"}})},
        {"op": "admit", "pod": guaranteed_pod("two", {"app": {"memory": "3Gi"}})},
    ]
    scenario = browsing.create(machine("16Gi", "16Gi", steps=steps))
    page = browsing.open(scenario)
    page.click("#events .event[data-version='1']")
    expect(page.locator("body")).to_have_attribute("data-viewing-version", "1")

    page.click("#fork-here")
    page.wait_for_url(lambda url: scenario.id not in url)
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#forked-from")).to_contain_text("at version 1")
    expect(page.locator("body")).to_have_attribute("data-readonly", "false")
    assert {b["pod"] for b in blocks_in_picture(page)} == {"one"}


def test_a_version_in_the_link_opens_the_past(browsing: Any) -> None:
    steps = [{"op": "admit", "pod": guaranteed_pod("one", {"app": {"memory": "2Gi"}})}]
    scenario = browsing.create(machine("16Gi", "16Gi", steps=steps))
    page = browsing.open(scenario, query="?version=0")
    expect(page.locator("body")).to_have_attribute("data-past", "true")
    expect(page.locator("svg.machine .block")).to_have_count(0)
