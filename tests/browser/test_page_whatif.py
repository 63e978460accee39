"""The policy what-if: the same machine and history replayed under other Topology Manager settings."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import guaranteed_pod, machine
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_replaying_under_single_numa_node_rejects_what_restricted_admitted(browsing: Any) -> None:
    # 20Gi does not fit one 16Gi node: restricted admits it across both (the narrowest feasible
    # mask is preferred), single-numa-node cannot.
    steps = [{"op": "admit", "pod": guaranteed_pod("wide", {"app": {"memory": "20Gi"}})}]
    scenario = browsing.create(machine("16Gi", "16Gi", policy="restricted", scope="pod", steps=steps))
    page = browsing.open(scenario)
    expect(page.locator(".pod[data-pod-name='wide']")).to_have_attribute("data-status", "Running")
    expect(page.locator("svg.machine .block[data-pod='wide']").first).to_have_attribute("data-numa", "0,1")

    page.click("#whatif-menu summary")
    page.select_option("#w-policy", "single-numa-node")
    page.click("#whatif-form button[type='submit']")
    page.wait_for_url(lambda url: scenario.id not in url)
    page.wait_for_selector("body[data-ready='true']")

    expect(page.locator("#config-line")).to_contain_text("single-numa-node")
    expect(page.locator("body")).to_have_attribute("data-readonly", "false")
    wide = page.locator(".pod[data-pod-name='wide']")
    expect(wide).to_have_attribute("data-status", "Failed")
    expect(wide.locator("[data-reason]")).to_have_text("TopologyAffinityError")
