"""The /import page and the scenario page's Kubelet panel, in a real browser.

Uploaded node files land in the right box, a check shows what the kubelet would make of them (or the
field at fault), an import opens the scenario, and the panel's linter and restart what-if answer with
the kubelet's own words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from browser_support import guaranteed_pod, machine
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples" / "checkpoints"
DRIFT_ERROR = "[memorymanager] the expected machine state is different from the real one"
NUMACTL = (
    "available: 2 nodes (0-1)\nnode 0 cpus: 0 1\nnode 0 size: 8192 MB\nnode 0 free: 7000 MB\n"
    "node 1 cpus: 2 3\nnode 1 size: 8192 MB\nnode 1 free: 8000 MB\n"
)
CONFIG = (
    "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\nmemoryManagerPolicy: Static\n"
    "systemReserved:\n  memory: 412Mi\nreservedMemory:\n  - numaNode: 0\n    limits:\n      memory: 1Gi\n"
)


def open_import_page(browsing: Any) -> Any:
    page = browsing.new_page()
    page.goto("/import/")
    page.wait_for_selector("body[data-ready='true']")
    return page


def test_uploaded_files_are_recognised_checked_and_imported(browsing: Any, tmp_path: Path) -> None:
    checkpoint = (CHECKPOINTS / "cp-gen-005-s1.state").read_text()
    state_file = tmp_path / "memory_manager_state"
    state_file.write_text(checkpoint)
    page = open_import_page(browsing)

    page.set_input_files("#x-files", str(state_file))
    expect(page.locator("#x-checkpoint")).to_have_value(checkpoint)
    expect(page.locator("#x-files-note")).to_contain_text("memory_manager_state")

    page.click("#x-check")
    expect(page.locator("#x-status")).to_have_class("form-status ok")
    report = page.locator("#x-checkpoint-report")
    expect(report).to_contain_text("valid (as the kubelet writes it)")
    expect(report).to_contain_text("byte-identical to the file")
    expect(page.locator("#x-machine tbody tr")).to_have_count(2)

    page.fill("#x-name", "node from the field")
    page.click("#x-import")
    page.wait_for_url("**/s/*/")
    page.wait_for_selector("body[data-ready='true']")
    scenario_id = page.evaluate("document.body.dataset.scenarioId")
    view = browsing.get(f"/api/v1/scenarios/{scenario_id}")
    assert view["name"] == "node from the field"
    expect(page.locator("body")).to_have_attribute("data-readonly", "false")
    exported = browsing.api().get(f"/api/v1/scenarios/{scenario_id}/export/checkpoint")
    assert exported.text() == checkpoint


def test_a_bad_configuration_is_shown_with_its_line_and_the_kubelets_refusal(browsing: Any) -> None:
    page = open_import_page(browsing)
    page.fill("#x-numactl", NUMACTL)
    page.fill("#x-kubelet", CONFIG.replace("memory: 1Gi", "memory: lots"))
    page.click("#x-check")
    expect(page.locator("#x-status")).to_have_class("form-status error")
    slot = page.locator("[data-error-for='kubelet_configuration']")
    expect(slot).to_contain_text("reservedMemory[0].limits.memory")
    expect(slot).to_contain_text("line 9")
    expect(page.locator("#x-kubelet")).to_have_attribute("aria-invalid", "true")

    # Well-formed, but the real kubelet refuses it: 1Gi reserved, 412Mi + 100Mi expected.
    page.fill("#x-kubelet", CONFIG)
    page.click("#x-import")
    expect(page.locator("#x-status")).to_contain_text("would refuse to start")
    expect(page.locator("#x-lint-outcome")).to_contain_text('is not equal to the value "512Mi"')
    expect(page.locator("#x-report pre.code")).to_contain_text("memory: 512Mi")
    assert page.url.endswith("/import/")


def test_the_kubelet_panel_lints_and_answers_the_restart_what_if(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", "8Gi", reserved="1Gi"))
    browsing.submit(scenario, guaranteed_pod("db", {"db": {"memory": "2Gi"}}))
    page = browsing.open(scenario)
    page.wait_for_selector("#kubelet-panel[data-ready='true']")
    expect(page.locator("#k-flag")).to_have_value("0:memory=1Gi;1:memory=1Gi")
    expect(page.locator("#k-dl-checkpoint")).to_have_attribute(
        "href", f"/api/v1/scenarios/{scenario.id}/export/checkpoint"
    )

    # 2Gi reserved in total, and a real kubelet expects systemReserved + 100Mi.
    page.fill("#k-system", "1948Mi")
    page.click("#k-lint")
    expect(page.locator("#k-lint-outcome")).to_have_class("ok")
    page.fill("#k-system", "1Gi")
    page.click("#k-lint")
    expect(page.locator("#k-lint-outcome")).to_contain_text("refuses to start")
    expect(page.locator("#k-corrected")).to_contain_text("reservedMemory")

    # No drift: the kubelet comes back with its pod; 4 KiB less on node 1: its exact error.
    page.fill("#k-drift-kib", "0")
    page.click("#k-whatif")
    expect(page.locator("#k-restart-outcome")).to_contain_text("comes back: 1 pod(s)")
    page.select_option("#k-drift-node", "1")
    page.fill("#k-drift-kib", "-4")
    page.click("#k-whatif")
    expect(page.locator("#k-restart-outcome")).to_contain_text(DRIFT_ERROR)
    assert browsing.get(f"/api/v1/scenarios/{scenario.id}")["version"] == 1  # a what-if stores nothing

    page.click("#k-restart-apply")
    expect(page.locator("#k-restart-result")).to_contain_text("Applied")
    assert browsing.get(f"/api/v1/scenarios/{scenario.id}")["version"] == 2


def test_the_panel_is_read_only_without_the_token(browsing: Any) -> None:
    scenario = browsing.create(machine("4Gi", reserved="1Gi"))
    page = browsing.open(scenario, as_owner=False)
    page.wait_for_selector("#kubelet-panel[data-ready='true']")
    expect(page.locator("#k-restart-apply")).to_be_hidden()
    page.click("#k-whatif")
    expect(page.locator("#k-restart-outcome")).to_contain_text("does not come back")
    # A flag the kubelet's own parser refuses: its words, naming the entry.
    page.fill("#k-flag", "0:cpu=1")
    page.click("#k-lint")
    expect(page.locator("#k-lint-status")).to_have_class("form-status error")
    expect(page.locator("#k-lint-status")).to_contain_text(
        'reserved_memory[0]: memory type conversion error, unknown type: "cpu"'
    )
