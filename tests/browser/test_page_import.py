"""Importing a live node from the start page: a real memory_manager_state file becomes a scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import picture_matches
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "checkpoints"


def test_a_pasted_checkpoint_file_becomes_a_scenario_showing_its_state(browsing: Any) -> None:
    checkpoint = (CHECKPOINTS / "cp-gen-005-s1.state").read_text()
    page = browsing.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    page.fill("#i-checkpoint", checkpoint)
    page.click("#import-form button[type='submit']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")

    scenario_id = page.evaluate("document.body.dataset.scenarioId")
    view = browsing.get(f"/api/v1/scenarios/{scenario_id}")
    expect(page.locator("svg.machine .numa-node")).to_have_count(len(view["state"]))
    picture_matches(page, view)
    expect(page.locator("body")).to_have_attribute("data-readonly", "false")


def test_an_unreadable_node_file_is_reported_next_to_its_box(browsing: Any) -> None:
    page = browsing.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    page.fill("#i-numactl", "this is not numactl output")
    page.click("#import-form button[type='submit']")
    expect(page.locator("#import-status")).to_have_class("form-status error")
    errors = page.locator("#import-form [data-error-for='numactl'], #import-errors")
    expect(errors.filter(has_text="numactl").first).to_be_visible()
