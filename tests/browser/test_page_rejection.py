"""A rejected pod: the kubelet's reason and message, and the explanation of the decision."""

from __future__ import annotations

import re
from typing import Any

import pytest
from browser_support import guaranteed_pod, machine
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_rejected_pod_shows_the_kubelets_reason_and_its_explanation(browsing: Any) -> None:
    # 20Gi fits in total on two 16Gi nodes but on neither alone: single-numa-node must refuse it.
    scenario = browsing.create(machine("16Gi", "16Gi", policy="single-numa-node", scope="pod"))
    page = browsing.open(scenario)
    browsing.submit(scenario, guaranteed_pod("too-wide", {"app": {"memory": "20Gi"}}))

    events = browsing.get(f"/api/v1/scenarios/{scenario.id}/events?after=0")["events"]
    (event,) = [e for e in events if e["pod_name"] == "too-wide"]
    outcome, explanation = event["outcome"], event["explanation"]
    assert outcome["admitted"] is False
    assert outcome["reason"] == "TopologyAffinityError"

    pod = page.locator(".pod[data-pod-name='too-wide']")
    expect(pod).to_have_attribute("data-status", "Failed")
    expect(pod.locator("[data-reason]")).to_have_text(outcome["reason"])
    expect(pod.locator("[data-message]")).to_have_text(outcome["message"])
    expect(page.locator("svg.machine .block[data-pod='too-wide']")).to_have_count(0)

    # The explainer follows the newest submission: verdict, reason, the summary, the hints.
    explainer = page.locator("#explainer")
    expect(explainer.locator("[data-verdict]")).to_have_attribute("data-verdict", "rejected")
    expect(explainer.locator(".verdict .reason")).to_have_text(outcome["reason"])
    assert explanation and explanation["summary"]
    expect(explainer.locator("[data-summary]")).to_have_text(explanation["summary"])
    expect(explainer.locator(".evaluation")).to_have_count(len(explanation["evaluations"]))
    expect(explainer.locator(".pipeline li.bad").first).to_be_visible()


def test_clicking_a_pod_explains_its_own_admission(browsing: Any) -> None:
    scenario = browsing.create(machine("16Gi", "16Gi"))
    page = browsing.open(scenario)
    browsing.submit(scenario, guaranteed_pod("fits", {"app": {"memory": "2Gi"}}))
    browsing.submit(scenario, guaranteed_pod("too-wide", {"app": {"memory": "20Gi"}}))
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "rejected")

    page.click(".pod[data-pod-name='fits'] .pod-name")
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "admitted")
    expect(page.locator("#explainer .merged")).to_contain_text("{0}")

    # Pointing at the merged hint outlines its NUMA node in the picture.
    page.hover("#explainer .merged")
    hinted = re.compile(r"\bhinted\b")
    expect(page.locator("svg.machine .numa-node[data-numa-id='0']")).to_have_class(hinted)
    expect(page.locator("svg.machine .numa-node[data-numa-id='1']")).not_to_have_class(hinted)
