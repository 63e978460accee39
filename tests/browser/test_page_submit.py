"""Submitting pods from the scenario page: the form and the YAML box."""

from __future__ import annotations

from typing import Any

import pytest
from browser_support import GI, blocks_in_picture, machine, node_attribute, picture_matches
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: big
spec:
  containers:
  - name: main
    image: pause
    resources:
      requests: {cpu: "2", memory: 10Gi}
      limits: {cpu: "2", memory: 10Gi}
  - name: helper
    image: pause
    resources:
      requests: {cpu: "1", memory: 1Gi}
      limits: {cpu: "1", memory: 1Gi}
"""


def fill_form_pod(page: Any, name: str, memory: str, hugepages_1gi: str = "") -> None:
    page.fill("#pod-name", name)
    row = page.locator("#container-rows .container-row").first
    row.locator("[data-field='memory']").fill(memory)
    row.locator("[data-field='hugepages-1Gi']").fill(hugepages_1gi)
    page.click("#pod-submit")


def test_the_form_submits_a_guaranteed_pod_and_the_picture_shows_its_blocks(browsing: Any) -> None:
    # Node 0: 16Gi - 1Gi reserved - 4Gi hugepages = 11Gi allocatable memory; node 1 the same.
    scenario = browsing.create(machine("16Gi", "16Gi", hugepages_1gi="4Gi", policy="single-numa-node"))
    page = browsing.open(scenario)
    free_before = node_attribute(page, 0, "data-free-memory")
    huge_before = node_attribute(page, 0, "data-free-hugepages-1Gi")

    fill_form_pod(page, "db", "3Gi", "2Gi")

    block = page.locator("svg.machine .block[data-pod='db'][data-resource='memory']")
    expect(block).to_have_attribute("data-size", str(3 * GI))
    # Both nodes are empty and equal: the kubelet takes the lowest NUMA id.
    expect(block).to_have_attribute("data-numa", "0")
    huge = page.locator("svg.machine .block[data-pod='db'][data-resource='hugepages-1Gi']")
    expect(huge).to_have_attribute("data-size", str(2 * GI))
    expect(huge).to_have_attribute("data-numa", "0")
    assert node_attribute(page, 0, "data-free-memory") == free_before - 3 * GI
    assert node_attribute(page, 0, "data-free-hugepages-1Gi") == huge_before - 2 * GI

    # The pod went in as Guaranteed (requests == limits), as the API recorded it.
    view = browsing.get(f"/api/v1/scenarios/{scenario.id}")
    (db,) = [pod for pod in view["pods"] if pod["name"] == "db"]
    resources = db["pod"]["spec"]["containers"][0]["resources"]
    assert resources["requests"] == resources["limits"]
    expect(page.locator(".pod[data-pod-name='db'] [data-status-badge]")).to_have_text("Running")
    picture_matches(page, view)


def test_the_yaml_box_submits_a_pod_and_it_lands_on_the_node_with_room(browsing: Any) -> None:
    first = {"name": "first", "memory": "3Gi"}
    scenario = browsing.create(machine("16Gi", "16Gi", hugepages_1gi="4Gi", policy="single-numa-node"))
    page = browsing.open(scenario)
    fill_form_pod(page, first["name"], first["memory"])
    expect(page.locator("svg.machine .block[data-pod='first']")).to_have_attribute("data-numa", "0")

    page.click("#tab-yaml")
    page.fill("#pod-yaml", POD_YAML)
    page.click("#yaml-submit")

    # 11Gi in total no longer fits next to "first" on node 0 (8Gi left); node 1 has 11Gi free.
    main = page.locator("svg.machine .block[data-pod='big'][data-container='main']")
    expect(main).to_have_attribute("data-size", str(10 * GI))
    expect(main).to_have_attribute("data-numa", "1")
    helper = page.locator("svg.machine .block[data-pod='big'][data-container='helper']")
    expect(helper).to_have_attribute("data-size", str(1 * GI))
    view = browsing.get(f"/api/v1/scenarios/{scenario.id}")
    picture_matches(page, view)
    assert {b["pod"] for b in blocks_in_picture(page)} == {"first", "big"}
