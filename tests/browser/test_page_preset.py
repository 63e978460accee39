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


def test_a_block_spanning_two_numa_nodes_is_one_element_drawn_on_both(browsing: Any) -> None:
    page = browsing.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    page.click("[data-preset='span']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    scenario_id = page.evaluate("document.body.dataset.scenarioId")
    view = browsing.get(f"/api/v1/scenarios/{scenario_id}")
    picture_matches(page, view)

    # 24Gi fits no single 15Gi node: one block whose affinity spans two nodes, drawn in both bars.
    big = page.locator("svg.machine .block[data-pod='big']")
    expect(big).to_have_count(1)
    (block,) = [b for b in blocks_in_picture(page) if b["pod"] == "big"]
    numa = [int(n) for n in block["numa"].split(",")]
    assert len(numa) == 2
    assert sorted(node for node, _ in block["parts"]) == numa
    assert sum(size for _, size in block["parts"]) == block["size"] == 24 * GI
    group = page.locator(f"svg.machine .numa-group[data-cells='{block['numa']}']")
    expect(group).to_have_count(1)
