"""Restarting the kubelet from the scenario page: the checkpoint is restored, the pods keep their memory."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import blocks_in_picture, guaranteed_pod, machine
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_restart_keeps_the_pinned_memory_and_is_explained(browsing: Any) -> None:
    steps = [{"op": "admit", "pod": guaranteed_pod("survivor", {"app": {"memory": "2Gi"}})}]
    scenario = browsing.create(machine("8Gi", "8Gi", steps=steps))
    page = browsing.open(scenario)
    before = blocks_in_picture(page)

    page.click("#restart-kubelet")

    expect(page.locator("#events .event[data-op='restart']")).to_have_count(1)
    events = browsing.get(f"/api/v1/scenarios/{scenario.id}/events?after=0")["events"]
    (restart,) = [e for e in events if e["op"] == "restart"]
    assert restart["outcome"]["started"] is True
    expect(page.locator("#explainer [data-verdict]")).to_have_attribute("data-verdict", "started")
    assert blocks_in_picture(page) == before
