"""User strings are rendered as text, never as markup."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import guaranteed_pod, machine
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>"


def collect_dialogs(page: Any) -> list[str]:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return dialogs


def test_a_hostile_scenario_name_renders_as_text(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", name=HOSTILE))
    page = browsing.open(scenario)
    dialogs = collect_dialogs(page)
    expect(page.locator("#scenario-name")).to_have_text(HOSTILE)
    assert HOSTILE in page.title()
    assert page.locator("img").count() == 0
    assert dialogs == []


def test_a_hostile_pod_name_renders_as_text(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", "8Gi"))
    page = browsing.open(scenario)
    dialogs = collect_dialogs(page)

    browsing.submit(scenario, guaranteed_pod(HOSTILE, {"app": {"memory": "1Gi"}}))

    expect(page.locator(".pod .pod-name").first).to_have_text(HOSTILE)
    expect(page.locator("svg.machine .block").first).to_have_attribute("data-pod", HOSTILE)
    expect(page.locator("#events .event[data-op='admit'] .what")).to_contain_text(HOSTILE)
    expect(page.locator("#explainer")).to_contain_text(HOSTILE)
    # No element was created from the name, and nothing ran.
    assert page.locator("img").count() == 0
    assert dialogs == []
