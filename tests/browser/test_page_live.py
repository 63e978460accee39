"""Live updates: a change made through the REST API shows in every open page within a second."""

from __future__ import annotations

import time
from typing import Any

import pytest
from browser_support import GI, guaranteed_pod, machine, picture_matches
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_second_page_sees_a_rest_submission_within_a_second(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", "8Gi"))
    owner = browsing.open(scenario)
    visitor = browsing.open(scenario, as_owner=False)
    for page in (owner, visitor):
        expect(page.locator("body")).to_have_attribute("data-ws", "open")

    started = time.monotonic()
    result = browsing.submit(scenario, guaranteed_pod("streamed", {"app": {"memory": "2Gi"}}))
    block = visitor.locator("svg.machine .block[data-pod='streamed']")
    expect(block).to_have_attribute("data-size", str(2 * GI), timeout=1000)
    assert time.monotonic() - started < 1.5  # the POST itself plus at most a second
    expect(visitor.locator("#version-badge")).to_have_text(f"version {result['version']}")
    expect(owner.locator("svg.machine .block[data-pod='streamed']")).to_have_count(1)
    picture_matches(visitor, browsing.get(f"/api/v1/scenarios/{scenario.id}"))


def test_a_page_resynchronises_after_its_socket_reconnects(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", "8Gi"))
    visitor = browsing.open(scenario, as_owner=False)
    expect(visitor.locator("body")).to_have_attribute("data-ws", "open")

    visitor.context.set_offline(True)
    browsing.submit(scenario, guaranteed_pod("while-away", {"app": {"memory": "1Gi"}}))
    visitor.context.set_offline(False)

    expect(visitor.locator("svg.machine .block[data-pod='while-away']")).to_have_count(1, timeout=8000)
    expect(visitor.locator("#events .event[data-op='admit']")).to_have_count(1)
