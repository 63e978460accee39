"""A visitor without the edit token sees everything read-only, and can fork."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import guaranteed_pod, machine
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_visitor_without_the_token_cannot_submit_and_sees_a_fork_button(browsing: Any) -> None:
    steps = [{"op": "admit", "pod": guaranteed_pod("mine", {"app": {"memory": "1Gi"}})}]
    scenario = browsing.create(machine("8Gi", "8Gi", steps=steps))
    page = browsing.open(scenario, as_owner=False)

    expect(page.locator("body")).to_have_attribute("data-readonly", "true")
    expect(page.locator("#readonly-badge")).to_be_visible()
    expect(page.locator("#pod-form")).to_be_hidden()
    expect(page.locator("#yaml-form")).to_be_hidden()
    expect(page.locator("[data-delete]")).to_have_count(0)
    expect(page.locator("svg.machine .block[data-pod='mine']")).to_have_count(1)  # still sees everything

    # The API agrees: no token, no write.
    response = browsing.api().post(
        f"/api/v1/scenarios/{scenario.id}/pods", data=guaranteed_pod("sneaky", {"app": {"memory": "1Gi"}})
    )
    assert response.status == 401

    page.click("#fork-readonly")
    page.wait_for_url(lambda url: scenario.id not in url)
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("body")).to_have_attribute("data-readonly", "false")
    expect(page.locator("#pod-form")).to_be_visible()
    expect(page.locator("#forked-from")).to_contain_text(scenario.id)
    expect(page.locator("svg.machine .block[data-pod='mine']")).to_have_count(1)


def test_a_wrong_token_is_treated_as_read_only(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi"))
    other = browsing.create(machine("8Gi"))
    page = browsing.new_page()
    page.add_init_script(f"localStorage.setItem('mmp:edit-token:{scenario.id}', '{other.edit_token}')")
    page.goto(scenario.path)
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("body")).to_have_attribute("data-readonly", "true")


def test_the_share_button_copies_the_scenarios_link(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi"))
    page = browsing.open(scenario, as_owner=False)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.click("#share-button")
    expect(page.locator("#share-button")).to_have_attribute("data-url", scenario.created["share_url"])
    assert page.evaluate("navigator.clipboard.readText()") == scenario.created["share_url"]
