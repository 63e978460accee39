"""Starting a scenario from a preset on the start page."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import GI, blocks_in_picture, picture_matches
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_preset_creates_a_scenario_and_keeps_its_edit_token(browsing: Any) -> None:
    page = browsing.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("[data-preset-card]")).to_have_count(7)

    page.click("[data-preset='two-socket']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    scenario_id = page.evaluate("document.body.dataset.scenarioId")

    # The creator's browser holds the token: the page is editable.
    token = page.evaluate(f"localStorage.getItem('mmp:edit-token:{scenario_id}')")
    assert token
    expect(page.locator("body")).to_have_attribute("data-readonly", "false")
    expect(page.locator("#pod-form")).to_be_visible()

    # The picture is the API's state: two NUMA nodes, the preset's two pods on one node each.
    view = browsing.get(f"/api/v1/scenarios/{scenario_id}")
    expect(page.locator("svg.machine .numa-node")).to_have_count(2)
    picture_matches(page, view)
    web = [b for b in blocks_in_picture(page) if b["pod"] == "web"]
    assert [(b["resource"], b["size"]) for b in web] == [("memory", 8 * GI)]
    # single-numa-node pins the pod to exactly one node.
    assert web[0]["numa"] in {"0", "1"}


def test_a_preset_variant_sets_the_topology_manager_policy(browsing: Any) -> None:
    page = browsing.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    page.click("[data-preset='restricted-vs-single'][data-variant='single-numa-node']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#config-line")).to_contain_text("single-numa-node")
