"""Kubelet interop through the REST API: imports of what a node has, exports of what the kubelet writes.

Every real ``memory_manager_state`` file imports into a scenario whose exported file is byte-identical;
bad files are refused with a 4xx that names the field, and nothing is stored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.test import Client

from allocator.checkpoint import checkpoint_to_state, decode_checkpoint
from allocator.importers import parse_kubelet_configuration
from allocator.scenario import parse_kubelet
from playground.models import Scenario
from tests.playground.conftest import GI, MI, Owner, guaranteed_pod

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
CHECKPOINTS = EXAMPLES / "checkpoints"
CHECKPOINT_INDEX: list[dict[str, Any]] = json.loads((CHECKPOINTS / "index.json").read_text())
DRIFT_ERROR = "[memorymanager] the expected machine state is different from the real one"

pytestmark = pytest.mark.django_db

NUMACTL = """available: 2 nodes (0-1)
node 0 cpus: 0 1 2 3
node 0 size: 8192 MB
node 0 free: 7000 MB
node 1 cpus: 4 5 6 7
node 1 size: 8192 MB
node 1 free: 8000 MB
node distances:
node   0   1
  0:  10  21
  1:  21  10
"""

KUBELET_CONFIGURATION = """apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
memoryManagerPolicy: Static
topologyManagerPolicy: single-numa-node
topologyManagerScope: pod
systemReserved:
  memory: 412Mi
reservedMemory:
  - numaNode: 0
    limits:
      memory: 512Mi
"""

CADVISOR = {
    "num_cores": 8,
    "topology": [
        {
            "node_id": 0,
            "memory": 4 * GI,
            "hugepages": [{"page_size": 1048576, "num_pages": 2}],
            "distances": [10, 21],
        },
        {
            "node_id": 1,
            "memory": 4 * GI,
            "hugepages": [{"page_size": 1048576, "num_pages": 0}],
            "distances": [21, 10],
        },
    ],
}


def checkpoint_text(record: dict[str, Any]) -> str:
    return (CHECKPOINTS / record["file"]).read_text(encoding="utf-8")


def first_record(**want: Any) -> dict[str, Any]:
    return next(r for r in CHECKPOINT_INDEX if all(r[key] == value for key, value in want.items()))


def with_pods() -> dict[str, Any]:
    return next(r for r in CHECKPOINT_INDEX if r["containers"] > 0 and r["numa_nodes"] == 2)


def post_json(client: Client, url: str, body: Any, **headers: str) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json", **headers)


def assert_refused(response: Any, path_part: str, message_part: str, before: int) -> dict[str, Any]:
    """A clear 4xx: JSON with a sentence and the field at fault; nothing stored."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content)
    body = response.json()
    assert message_part in body["detail"], body
    assert any(path_part in error["path"] for error in body["errors"]), body
    assert Scenario.objects.count() == before
    return body


# --- memory_manager_state ---------------------------------------------------------------------------


@pytest.mark.parametrize("record", CHECKPOINT_INDEX, ids=lambda r: r["name"])
def test_every_checkpoint_imports_and_exports_byte_identical(
    api_client: Client, record: dict[str, Any]
) -> None:
    text = checkpoint_text(record)
    response = post_json(api_client, "/api/v1/import", {"checkpoint": text, "name": record["name"]})
    assert response.status_code == 201, response.content
    created = response.json()
    report = created["report"]
    assert report["checksum_status"] == "valid" and report["checksum"] == record["checksum"]
    assert report["kubelet_would_start"] is True and report["reexport_identical"] is True
    assert report["as_the_kubelet_writes_it"] is True
    exported = api_client.get(f"/api/v1/scenarios/{created['id']}/export/checkpoint")
    assert exported.status_code == 200
    assert exported.content == text.encode("utf-8")
    view = api_client.get(f"/api/v1/scenarios/{created['id']}").json()
    assert view["state"] == checkpoint_to_state(decode_checkpoint(text))
    running = {pod["uid"] for pod in view["pods"] if pod["status"] == "Running"}
    assert running == set(decode_checkpoint(text).entries or {})


def test_raw_checkpoint_upload(api_client: Client) -> None:
    record = with_pods()
    text = checkpoint_text(record)
    response = api_client.post(
        "/api/v1/import/checkpoint?name=node-7", text, content_type="application/octet-stream"
    )
    assert response.status_code == 201, response.content
    scenario_id = response.json()["id"]
    assert api_client.get(f"/api/v1/scenarios/{scenario_id}").json()["name"] == "node-7"
    assert api_client.get(f"/api/v1/scenarios/{scenario_id}/export/checkpoint").content == text.encode()
    # The imported node is a kubelet that has just started from the file: its counters are all zero.
    metrics = api_client.get(f"/api/v1/scenarios/{scenario_id}/metrics").content.decode()
    assert "kubelet_topology_manager_admission_requests_total 0\n" in metrics
    assert "kubelet_memory_manager_pinning_requests_total 0\n" in metrics


@pytest.mark.parametrize("record", CHECKPOINT_INDEX[:6], ids=lambda r: r["name"])
def test_checkpoint_with_its_machine_and_kubelet_alongside(
    api_client: Client, record: dict[str, Any]
) -> None:
    vector = json.loads((EXAMPLES / "vectors" / f"{record['source_vector']}.json").read_text())
    text = checkpoint_text(record)
    body = {"checkpoint": text, "machine": vector["machine"], "kubelet": vector["kubelet"]}
    response = post_json(api_client, "/api/v1/import", body)
    assert response.status_code == 201, response.content
    report = response.json()["report"]
    assert report["inferred"] == [] and report["machine_source"] == "machine"
    scenario_id = response.json()["id"]
    assert api_client.get(f"/api/v1/scenarios/{scenario_id}/export/checkpoint").content == text.encode()
    view = api_client.get(f"/api/v1/scenarios/{scenario_id}").json()
    assert view["kubelet"]["topology_manager_policy"] == vector["kubelet"].get(
        "topology_manager_policy", "none"
    )


def test_a_reindented_file_imports_and_exports_as_the_kubelet_writes_it(api_client: Client) -> None:
    """The checksum covers the content, not the bytes: a re-indented file is valid; the export is compact."""
    record = first_record(numa_nodes=2, containers=0)
    canonical = checkpoint_text(record)
    text = json.dumps(json.loads(canonical), indent=2)
    response = post_json(api_client, "/api/v1/import", {"checkpoint": text})
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["report"]["checksum_status"] == "valid"
    assert created["report"]["reexport_identical"] is False
    assert created["report"]["as_the_kubelet_writes_it"] is False
    url = f"/api/v1/scenarios/{created['id']}/export/checkpoint"
    assert api_client.get(url).content == canonical.encode()


def test_checkpoint_preview_stores_nothing(api_client: Client) -> None:
    record = with_pods()
    response = post_json(api_client, "/api/v1/import/preview", {"checkpoint": checkpoint_text(record)})
    assert response.status_code == 200, response.content
    body = response.json()
    assert {pod["metadata"]["uid"] for pod in body["pods"]} == set(
        decode_checkpoint(checkpoint_text(record)).entries
    )
    assert body["report"]["kind"] == "checkpoint"
    node = {"numactl": NUMACTL, "kubelet_configuration": KUBELET_CONFIGURATION}
    response = post_json(api_client, "/api/v1/import/preview", node)
    assert response.status_code == 200, response.content
    assert response.json()["report"] == {
        "kind": "node",
        "machine_source": "numactl",
        "kubelet_sources": ["kubelet_configuration"],
    }
    assert [n["memory"] for n in response.json()["machine"]["numa_nodes"]] == [8192 * MI, 8192 * MI]
    assert Scenario.objects.count() == 0


def mutated(
    record: dict[str, Any], change: Callable[[dict[str, Any]], None], checksum: int | None = 0
) -> str:
    doc = json.loads(checkpoint_text(record))
    change(doc)
    if checksum is not None:
        doc["checksum"] = checksum
    return json.dumps(doc, separators=(",", ":"))


def first_block(doc: dict[str, Any]) -> dict[str, Any]:
    containers = next(iter(doc["entries"].values()))
    return next(iter(containers.values()))[0]


def set_first_block(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        first_block(doc)[key] = value

    return change


def add_node(numa_id: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["machineState"][numa_id] = doc["machineState"]["0"]

    return change


def add_table(doc: dict[str, Any]) -> None:
    doc["machineState"]["0"]["memoryMap"]["gpu-memory"] = doc["machineState"]["0"]["memoryMap"]["memory"]


BAD_FILES = [
    pytest.param(
        lambda r: checkpoint_text(r)[:60], "checkpoint", "unexpected end of JSON input", id="truncated"
    ),
    pytest.param(lambda r: "garbage", "checkpoint", "invalid character 'g'", id="garbage"),
    pytest.param(
        lambda r: mutated(r, lambda d: None, checksum=json.loads(checkpoint_text(r))["checksum"] ^ 1),
        "checkpoint",
        "checkpoint is corrupted",
        id="wrong-checksum",
    ),
    pytest.param(
        lambda r: mutated(r, lambda d: d.update(policyName="Statik"), checksum=None),
        "checkpoint",
        "checkpoint is corrupted",
        id="policy-edited",
    ),
    pytest.param(
        lambda r: mutated(r, set_first_block("type", "gpu-memory")),
        "checkpoint.entries.",
        "unknown resource 'gpu-memory'",
        id="unknown-resource-entry",
    ),
    pytest.param(
        lambda r: mutated(r, add_table),
        "memoryMap.gpu-memory",
        "unknown resource",
        id="unknown-resource-table",
    ),
    pytest.param(
        lambda r: mutated(r, set_first_block("numaAffinity", [7])),
        "checkpoint",
        "NUMA node 7",
        id="numa-out-of-range-entry",
    ),
    pytest.param(
        lambda r: mutated(r, add_node("70")), "checkpoint.machineState.70", "above 63", id="numa-id-above-63"
    ),
    pytest.param(
        lambda r: mutated(r, add_node("99999999999999999999")),
        "checkpoint",
        "cannot unmarshal number 99999999999999999999",
        id="numa-id-overflows-int",
    ),
    pytest.param(lambda r: "null", "checkpoint", "no machine state", id="json-null"),
]


@pytest.mark.parametrize(("make", "path", "message"), BAD_FILES)
def test_bad_checkpoint_files_get_a_clear_4xx_and_nothing_stored(
    api_client: Client, make: Callable[[dict[str, Any]], str], path: str, message: str
) -> None:
    before = Scenario.objects.count()
    text = make(with_pods())
    assert_refused(post_json(api_client, "/api/v1/import", {"checkpoint": text}), path, message, before)
    raw = api_client.post("/api/v1/import/checkpoint", text, content_type="application/octet-stream")
    assert_refused(raw, path, message, before)


def test_checkpoint_on_a_drifted_machine_is_refused_with_the_kubelets_words(api_client: Client) -> None:
    record = with_pods()
    vector = json.loads((EXAMPLES / "vectors" / f"{record['source_vector']}.json").read_text())
    machine = json.loads(json.dumps(vector["machine"]))
    machine["numa_nodes"][1]["memory"] = int(machine["numa_nodes"][1]["memory"]) - 4096
    body = {"checkpoint": checkpoint_text(record), "machine": machine, "kubelet": vector["kubelet"]}
    refused = assert_refused(post_json(api_client, "/api/v1/import", body), "checkpoint", DRIFT_ERROR, 0)
    assert refused["report"]["kubelet_would_start"] is False


def test_policy_mismatch_with_the_configured_kubelet_is_refused(api_client: Client) -> None:
    record = with_pods()
    config = KUBELET_CONFIGURATION.replace("memoryManagerPolicy: Static", "memoryManagerPolicy: None")
    body = {"checkpoint": checkpoint_text(record), "kubelet_configuration": config}
    assert_refused(
        post_json(api_client, "/api/v1/import", body),
        "checkpoint",
        'configured policy "None" differs from state checkpoint policy "Static"',
        0,
    )


# --- KubeletConfiguration, --reserved-memory, numactl, cadvisor ----------------------------------------


def test_numactl_and_kubelet_configuration_import(api_client: Client) -> None:
    body = {"name": "node-a", "numactl": NUMACTL, "kubelet_configuration": KUBELET_CONFIGURATION}
    response = post_json(api_client, "/api/v1/import", body)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["report"] == {
        "kind": "node",
        "machine_source": "numactl",
        "kubelet_sources": ["kubelet_configuration"],
    }
    view = api_client.get(f"/api/v1/scenarios/{created['id']}").json()
    assert [node["memory"] for node in view["machine"]["numa_nodes"]] == [8192 * MI, 8192 * MI]
    assert view["kubelet"]["topology_manager_policy"] == "single-numa-node"
    assert view["kubelet"]["topology_manager_scope"] == "pod"
    assert view["state"]["0"]["memory"]["system_reserved"] == 512 * MI
    assert view["state"]["1"]["memory"]["system_reserved"] == 0
    # The new scenario takes pods like any other.
    owner = Owner(api_client, created["id"], created["edit_token"], created)
    assert owner.submit(guaranteed_pod("web", "1Gi")).json()["outcomes"][0]["admitted"] is True


def test_reserved_memory_flag_overrides_the_configuration(api_client: Client) -> None:
    body = {
        "numactl": NUMACTL,
        "kubelet_configuration": KUBELET_CONFIGURATION,
        "reserved_memory": "0:memory=256Mi;1:memory=256Mi",
    }
    response = post_json(api_client, "/api/v1/import", body)
    assert response.status_code == 201, response.content
    view = api_client.get(f"/api/v1/scenarios/{response.json()['id']}").json()
    assert [view["state"][n]["memory"]["system_reserved"] for n in ("0", "1")] == [256 * MI, 256 * MI]


@pytest.mark.parametrize("as_text", [True, False], ids=["text", "object"])
def test_cadvisor_import(api_client: Client, as_text: bool) -> None:
    body = {
        "cadvisor": json.dumps(CADVISOR) if as_text else CADVISOR,
        "kubelet": {"reserved_memory": [{"numa_node": 0, "limits": {"memory": "100Mi"}}]},
    }
    response = post_json(api_client, "/api/v1/import", body)
    assert response.status_code == 201, response.content
    view = api_client.get(f"/api/v1/scenarios/{response.json()['id']}").json()
    assert view["state"]["0"]["hugepages-1Gi"]["total"] == 2 * GI
    assert view["state"]["1"]["hugepages-1Gi"]["total"] == 0


@pytest.mark.parametrize(
    ("body", "path", "message"),
    [
        ({"numactl": NUMACTL.replace("node 1 size: 8192 MB", "node 1 size: lots")}, "numactl line 6", "size"),
        ({"numactl": "hello\n"}, "numactl line 1", "unrecognised"),
        ({"cadvisor": '{"topology": ['}, "cadvisor line 1", "not valid JSON"),
        ({"cadvisor": {"topology": [{"node_id": 0}]}}, "cadvisor.topology[0].memory", "required"),
        (
            {"numactl": NUMACTL, "kubelet_configuration": KUBELET_CONFIGURATION.replace("512Mi", "lots")},
            "kubelet_configuration.reservedMemory[0].limits.memory",
            "line 11",
        ),
        (
            {"numactl": NUMACTL, "kubelet_configuration": "kind: Pod\n"},
            "kubelet_configuration.kind",
            "KubeletConfiguration",
        ),
        ({"numactl": NUMACTL, "reserved_memory": "0:memory=1Gi;1"}, "reserved_memory[1]", "incorrect format"),
        ({"numactl": NUMACTL, "reserved_memory": "0:cpu=1"}, "reserved_memory[0]", "unknown type"),
        ({"kubelet_configuration": KUBELET_CONFIGURATION}, "numactl", "machine is missing"),
        ({"numactl": NUMACTL, "cadvisor": CADVISOR}, "cadvisor", "Give the machine once"),
        ({"numactl": 7}, "numactl", "must be a string"),
    ],
)
def test_bad_node_texts_name_the_field_or_line(
    api_client: Client, body: dict[str, Any], path: str, message: str
) -> None:
    assert_refused(post_json(api_client, "/api/v1/import", body), path, message, 0)


def test_a_configuration_the_kubelet_refuses_is_refused_in_its_words(api_client: Client) -> None:
    # reservedMemory (1Gi) differs from systemReserved + the default hard eviction (412Mi + 100Mi).
    config = KUBELET_CONFIGURATION.replace("memory: 512Mi", "memory: 1Gi")
    response = post_json(api_client, "/api/v1/import", {"numactl": NUMACTL, "kubelet_configuration": config})
    assert response.status_code == 422
    body = response.json()
    assert body["detail"].startswith("The kubelet would refuse to start with this configuration: ")
    assert 'the total amount "1Gi" of type "memory" is not equal to the value "512Mi"' in body["detail"]
    finding = next(f for f in body["lint"]["findings"] if f["code"] == "sum-mismatch")
    assert finding["corrected_reserved_memory"] == [{"numa_node": 0, "limits": {"memory": "512Mi"}}]
    assert Scenario.objects.count() == 0


def test_non_object_bodies_are_422(api_client: Client) -> None:
    for url in ("/api/v1/import", "/api/v1/import/preview", "/api/v1/lint"):
        response = post_json(api_client, url, ["not", "an", "object"])
        assert response.status_code == 422, (url, response.content)


def test_a_bare_kubelet_configuration_body_is_pointed_to_its_field(api_client: Client) -> None:
    response = api_client.post("/api/v1/import", KUBELET_CONFIGURATION, content_type="application/yaml")
    assert response.status_code == 422
    assert "kubelet_configuration field" in response.json()["detail"]
    assert Scenario.objects.count() == 0


def test_the_interop_endpoints_are_in_the_openapi_document(api_client: Client) -> None:
    paths = api_client.get("/api/v1/openapi.json").json()["paths"]
    for path in (
        "/api/v1/import",
        "/api/v1/import/checkpoint",
        "/api/v1/import/preview",
        "/api/v1/lint",
        "/api/v1/scenarios/{public_id}/export/checkpoint",
        "/api/v1/scenarios/{public_id}/metrics",
        "/api/v1/scenarios/{public_id}/restart/preview",
    ):
        assert path in paths, path


# --- exports -----------------------------------------------------------------------------------------


def test_exports_of_a_scenario(owner: Owner) -> None:
    client = owner.client
    assert owner.submit(guaranteed_pod("db", "2Gi"), guaranteed_pod("web", "1Gi")).status_code == 201
    base = f"/api/v1/scenarios/{owner.id}/export"

    config = client.get(f"{base}/kubelet-config")
    assert config.status_code == 200 and config["Content-Type"].startswith("application/yaml")
    view = owner.view()
    assert parse_kubelet_configuration(config.content.decode()) == parse_kubelet(view["kubelet"])

    flag = client.get(f"{base}/kubelet-config?format=flag")
    assert flag.content.decode().strip() == "0:memory=512Mi"
    assert client.get(f"{base}/kubelet-config?format=toml").status_code == 422

    pods = list(yaml.safe_load_all(client.get(f"{base}/pods.yaml").content))
    assert [pod["metadata"]["name"] for pod in pods] == ["db", "web"]
    assert [pod["metadata"]["uid"] for pod in pods] == [pod["uid"] for pod in view["pods"]]

    report = client.get(f"{base}/bug-report.md")
    assert report["Content-Type"].startswith("text/markdown")
    text = report.content.decode()
    assert "#### Configuration" in text and "#### Topology" in text and "`db`: admitted" in text
    assert f"/s/{owner.id}/" in text

    checkpoint = client.get(f"{base}/checkpoint")
    assert checkpoint["Content-Disposition"] == 'attachment; filename="memory_manager_state"'
    decoded = decode_checkpoint(checkpoint.content.decode())
    assert checkpoint_to_state(decoded) == view["state"]
    assert len(decoded.entries or {}) == 2


def test_checkpoint_export_at_a_past_version(owner: Owner) -> None:
    client = owner.client
    empty = client.get(f"/api/v1/scenarios/{owner.id}/export/checkpoint").content
    owner.submit(guaranteed_pod("db", "2Gi"))
    assert client.get(f"/api/v1/scenarios/{owner.id}/export/checkpoint?version=0").content == empty
    assert client.get(f"/api/v1/scenarios/{owner.id}/export/checkpoint?version=1").content != empty
    assert client.get(f"/api/v1/scenarios/{owner.id}/export/checkpoint?version=9").status_code == 404


def test_exports_of_an_unknown_scenario_are_404(api_client: Client) -> None:
    for tail in (
        "export/checkpoint",
        "export/kubelet-config",
        "export/pods.yaml",
        "export/bug-report.md",
        "metrics",
    ):
        assert api_client.get(f"/api/v1/scenarios/nope/{tail}").status_code == 404, tail


# --- the restart what-if ------------------------------------------------------------------------------


def test_restart_preview_with_and_without_drift(owner: Owner) -> None:
    client = owner.client
    owner.submit(guaranteed_pod("db", "1Gi"))
    url = f"/api/v1/scenarios/{owner.id}/restart/preview"
    same = post_json(client, url, {})
    assert same.status_code == 200 and same.json()["started"] is True

    machine = owner.view()["machine"]
    machine["numa_nodes"][1]["memory"] -= 4096
    drifted = post_json(client, url, {"changes": {"machine": machine}}).json()
    assert drifted["started"] is False
    assert drifted["error"] == DRIFT_ERROR
    assert owner.view()["version"] == 1  # a what-if stores nothing

    bad = post_json(client, url, {"changes": {"machine": {"numa_nodes": "many"}}})
    assert bad.status_code == 422 and bad.json()["errors"]


# --- the reservedMemory linter ------------------------------------------------------------------------


def test_lint_finds_the_mismatch_and_its_correction_starts_the_kubelet(api_client: Client) -> None:
    config = KUBELET_CONFIGURATION.replace("memory: 512Mi", "memory: 1Gi")
    result = post_json(
        api_client, "/api/v1/lint", {"numactl": NUMACTL, "kubelet_configuration": config}
    ).json()
    assert result["outcome"] == "error"
    assert "is not equal to the value" in result["error"]
    mismatch = next(f for f in result["findings"] if f["code"] == "sum-mismatch")
    assert mismatch["expected"] == 512 * MI and mismatch["actual"] == GI
    corrected = mismatch["corrected_reserved_memory"]
    kubelet = {
        "memory_manager_policy": "Static",
        "system_reserved": {"memory": "412Mi"},
        "reserved_memory": corrected,
    }
    fixed = post_json(api_client, "/api/v1/lint", {"numactl": NUMACTL, "kubelet": kubelet}).json()
    assert fixed == {"outcome": "ok", "error": None, "findings": []}
    assert Scenario.objects.count() == 0
