"""Describing a machine with the start page's form: created through the API, or refused field by field."""

from __future__ import annotations

import json
from typing import Any

import pytest
from browser_support import GI
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def open_start_page(browsing: Any) -> Any:
    page = browsing.new_page()
    page.goto("/")
    page.wait_for_selector("body[data-ready='true']")
    return page


def test_the_form_creates_the_machine_it_describes(browsing: Any) -> None:
    page = open_start_page(browsing)
    page.fill("#f-name", "three sockets")
    page.fill("#f-count", "3")
    expect(page.locator("#nodes-body tr")).to_have_count(3)
    for numa_id in range(3):
        page.fill(f"#n{numa_id}-memory", "20Gi")
        page.fill(f"#n{numa_id}-hugepages-1Gi", "2Gi")
        page.fill(f"#n{numa_id}-reserved", "512Mi")
    page.select_option("#f-tm-policy", "restricted")
    page.select_option("#f-scope", "pod")
    page.click("#machine-form button[type='submit']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")

    scenario_id = page.evaluate("document.body.dataset.scenarioId")
    view = browsing.get(f"/api/v1/scenarios/{scenario_id}")
    assert view["name"] == "three sockets"
    assert view["kubelet"]["topology_manager_policy"] == "restricted"
    assert view["kubelet"]["topology_manager_scope"] == "pod"
    assert [node["memory"] for node in view["machine"]["numa_nodes"]] == [20 * GI] * 3
    expect(page.locator("svg.machine .numa-node")).to_have_count(3)
    for numa_id in range(3):
        node = page.locator(f"svg.machine .numa-node[data-numa-id='{numa_id}']")
        expect(node).to_have_attribute("data-free-hugepages-1Gi", str(2 * GI))
        # memory allocatable: 20Gi - 512Mi reserved - 2Gi of hugepages
        expect(node).to_have_attribute("data-free-memory", str(20 * GI - GI // 2 - 2 * GI))


def test_an_invalid_quantity_is_shown_next_to_its_field_with_the_apis_message(browsing: Any) -> None:
    page = open_start_page(browsing)
    page.fill("#n1-memory", "64Gx")
    page.click("#machine-form button[type='submit']")

    field = page.locator("#n1-memory")
    expect(field).to_have_attribute("aria-invalid", "true")
    message = page.locator("[data-error-for='machine.numa_nodes[1].memory']")
    expect(message).to_contain_text("64Gx")
    response = browsing.api().post(
        "/api/v1/scenarios",
        data={
            "name": "x",
            "machine": {"numa_nodes": [{"id": 0, "memory": "64Gi"}, {"id": 1, "memory": "64Gx"}]},
            "kubelet": {"reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}]},
        },
    )
    assert response.status == 422
    (error,) = [e for e in response.json()["errors"] if e["path"] == "machine.numa_nodes[1].memory"]
    expect(message).to_have_text(error["message"])
    assert page.url.endswith("/")  # nothing was created


SCENARIO_YAML = """\
name: pasted node
machine:
  numa_nodes:
  - {id: 0, memory: 8Gi, hugepages-2Mi: 512Mi}
  - {id: 1, memory: 8Gi, hugepages-2Mi: 512Mi}
kubelet:
  topology_manager_policy: best-effort
  reserved_memory:
  - {numa_node: 0, limits: {memory: 512Mi}}
steps:
- op: admit
  pod:
    apiVersion: v1
    kind: Pod
    metadata: {name: pasted-pod}
    spec:
      containers:
      - name: app
        resources:
          requests: {cpu: "1", memory: 1Gi, hugepages-2Mi: 256Mi}
          limits: {cpu: "1", memory: 1Gi, hugepages-2Mi: 256Mi}
"""


def test_a_pasted_yaml_scenario_is_created_with_its_steps(browsing: Any) -> None:
    page = open_start_page(browsing)
    page.fill("#f-doc", SCENARIO_YAML)
    page.click("#paste-form button[type='submit']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#scenario-name")).to_have_text("pasted node")
    huge = page.locator("svg.machine .block[data-pod='pasted-pod'][data-resource='hugepages-2Mi']")
    expect(huge).to_have_attribute("data-size", str(256 * 1024**2))


def test_an_uploaded_json_file_fills_the_box(browsing: Any, tmp_path: Any) -> None:
    document = {
        "name": "uploaded node",
        "machine": {"numa_nodes": [{"id": 0, "memory": "4Gi"}]},
        "kubelet": {"reserved_memory": [{"numa_node": 0, "limits": {"memory": "256Mi"}}]},
    }
    path = tmp_path / "node.json"
    path.write_text(json.dumps(document))
    page = open_start_page(browsing)
    page.set_input_files("#f-file", str(path))
    expect(page.locator("#f-doc")).to_have_value(json.dumps(document))
    page.click("#paste-form button[type='submit']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    expect(page.locator("#scenario-name")).to_have_text("uploaded node")


def test_check_configuration_proposes_a_reserved_memory_the_kubelet_accepts(browsing: Any) -> None:
    page = open_start_page(browsing)
    page.fill("#f-system-reserved", "1Gi")
    page.fill("#f-kube-reserved", "512Mi")
    page.fill("#f-eviction", "100Mi")
    # The defaults reserve 1Gi on each node: 2Gi, not the 1636Mi Node Allocatable asks for.
    page.click("#lint-button")
    lint = page.locator("#lint-result .lint")
    expect(lint).to_have_attribute("data-lint", "error")
    expect(lint.locator("[data-code='sum-mismatch']")).to_contain_text("1636Mi")

    page.click("#apply-correction")
    expect(page.locator("#lint-result .lint")).to_have_attribute("data-lint", "ok")
    reserved = [page.input_value(f"#n{numa_id}-reserved") for numa_id in range(2)]
    page.click("#machine-form button[type='submit']")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    scenario_id = page.evaluate("document.body.dataset.scenarioId")
    kubelet = browsing.get(f"/api/v1/scenarios/{scenario_id}")["kubelet"]
    total = sum(entry["limits"]["memory"] for entry in kubelet["reserved_memory"])
    assert total == 1024**3 + 512 * 1024**2 + 100 * 1024**2
    assert any(reserved)
