"""``GET /api/v1/scenarios/{id}/metrics``: a scenario's kubelet metrics in the Prometheus text format.

The text is parsed with prometheus-client's own parser; the values after every step of every example
vector submitted through the API equal the real kubelet's registry read at that step
(``tests/data/kubelet-examples/metrics``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from allocator.metrics import series_key
from tests.playground.conftest import Owner, guaranteed_pod
from tests.playground.test_vectors_api import api_blocker

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
METRIC_FILES = sorted((EXAMPLES / "metrics").glob("*.metrics.json"))
HISTOGRAM = "kubelet_topology_manager_admission_duration_ms"

pytestmark = pytest.mark.django_db


def exposed_names(text: str) -> set[str]:
    """The sample names exactly as the text writes them."""
    return {
        line.split("{")[0].split(" ")[0] for line in text.splitlines() if line and not line.startswith("#")
    }


def parse(text: str) -> dict[str, dict[str, Any]]:
    """Families by name: ``{"type", "samples": {series key: value}}``, keyed as the metric files are.

    prometheus-client's parser reads every counter sample as ``<name>_total``; a kubelet counter named
    without the suffix (``..._count``) is keyed by the name the text exposes, as the kubelet's registry does.
    """
    names = exposed_names(text)
    families: dict[str, dict[str, Any]] = {}
    for family in text_string_to_metric_families(text):
        samples = {}
        for sample in family.samples:
            name = sample.name
            if name not in names and name.removesuffix("_total") in names:
                name = name.removesuffix("_total")
            assert name in names, name
            samples[series_key(name, dict(sample.labels))] = sample.value
        families[family.name] = {"type": family.type, "samples": samples}
    return families


def kubelet_series(families: dict[str, dict[str, Any]]) -> dict[str, int]:
    """The kubelet's series as the metric files key them: the histogram by its sample count only."""
    out: dict[str, int] = {}
    for name, family in families.items():
        if not name.startswith("kubelet_"):
            continue
        for key, value in family["samples"].items():
            if name == HISTOGRAM and not key.startswith(f"{HISTOGRAM}_count"):
                continue
            assert value == int(value)
            out[key] = int(value)
    return out


def get_metrics(client: Client, public_id: str, version: int | None = None) -> dict[str, dict[str, Any]]:
    url = f"/api/v1/scenarios/{public_id}/metrics" + ("" if version is None else f"?version={version}")
    response = client.get(url)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.content.decode())


def vector_with_metrics(path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    name = path.name.removesuffix(".metrics.json")
    vector = json.loads((EXAMPLES / "vectors" / f"{name}.json").read_text())
    return vector, json.loads(path.read_text())["steps"]


@pytest.mark.parametrize("path", METRIC_FILES, ids=lambda p: p.name.removesuffix(".metrics.json"))
def test_metrics_after_every_step_equal_the_kubelets(api_client: Client, path: Path) -> None:
    vector, expected = vector_with_metrics(path)
    blocker = api_blocker(vector)
    if blocker:
        pytest.skip(blocker)
    document = {"name": vector["name"], "machine": vector["machine"], "kubelet": vector["kubelet"]}
    created = api_client.post("/api/v1/scenarios", json.dumps(document), content_type="application/json")
    assert created.status_code == 201, created.content
    public_id = created.json()["id"]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {created.json()['edit_token']}"}
    names: dict[str, str] = {}
    for index, (step, want) in enumerate(zip(vector["steps"], expected, strict=True)):
        if step["op"] == "admit":
            names[step["pod"]["metadata"]["uid"]] = step["pod"]["metadata"]["name"]
            response = api_client.post(
                f"/api/v1/scenarios/{public_id}/pods",
                json.dumps(step["pod"]),
                content_type="application/json",
                **auth,
            )
        else:
            response = api_client.delete(
                f"/api/v1/scenarios/{public_id}/pods/{names.pop(step['pod_uid'])}", **auth
            )
        assert response.status_code in (200, 201), response.content
        got = kubelet_series(get_metrics(api_client, public_id))
        assert got == want["metrics"], f"step {index} ({step['op']})"
    # A past version reads the counters as they were then.
    if expected:
        assert kubelet_series(get_metrics(api_client, public_id, version=1)) == expected[0]["metrics"]


def test_exposition_types_histogram_and_numa_gauges(owner: Owner) -> None:
    client = owner.client
    owner.submit(guaranteed_pod("db", "3Gi"), guaranteed_pod("huge", "64Gi"))
    families = get_metrics(client, owner.id)
    assert families["kubelet_memory_manager_pinning_requests"]["type"] == "counter"
    assert families["kubelet_topology_manager_admission_requests"]["samples"] == {
        "kubelet_topology_manager_admission_requests_total{}": 2.0
    }
    assert families["kubelet_topology_manager_admission_errors"]["samples"] == {
        "kubelet_topology_manager_admission_errors_total{}": 1.0
    }
    aligned = families["kubelet_container_aligned_compute_resources_count"]
    assert aligned["type"] == "counter"
    assert (
        aligned["samples"][
            'kubelet_container_aligned_compute_resources_count{boundary="numa_node",scope="container"}'
        ]
        == 1
    )

    histogram = families[HISTOGRAM]
    assert histogram["type"] == "histogram"
    buckets = [(key, value) for key, value in histogram["samples"].items() if "_bucket" in key]
    assert len(buckets) == 16 and buckets[-1][0].endswith('le="+Inf"}')
    assert [value for _, value in buckets] == sorted(value for _, value in buckets)
    assert histogram["samples"][f"{HISTOGRAM}_count{{}}"] == buckets[-1][1] == 2

    state = owner.view()["state"]
    for field in ("total", "system_reserved", "allocatable", "reserved", "free"):
        samples = families[f"playground_numa_memory_{field}_bytes"]
        assert samples["type"] == "gauge"
        assert samples["samples"] == {
            series_key(
                f"playground_numa_memory_{field}_bytes", {"numa_node": numa, "resource": resource}
            ): float(table[field])
            for numa, tables in state.items()
            for resource, table in tables.items()
        }
    assert state["0"]["memory"]["reserved"] == 3 * 1024**3


def test_metrics_version_out_of_range_is_404(owner: Owner) -> None:
    assert owner.client.get(f"/api/v1/scenarios/{owner.id}/metrics?version=5").status_code == 404
    assert owner.client.get(f"/api/v1/scenarios/{owner.id}/metrics?version=-1").status_code == 404


# --- /metrics: the server itself ------------------------------------------------------------------------


def server_samples(client: Client) -> dict[str, float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    return {
        series_key(sample.name, dict(sample.labels)): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


@pytest.mark.django_db(transaction=True)  # admissions are counted when their transaction commits
def test_server_metrics_count_requests_admissions_and_restarts(owner: Owner) -> None:
    client = owner.client
    before = server_samples(client)

    def delta(key: str) -> float:
        return server_samples(client).get(key, 0.0) - before.get(key, 0.0)

    owner.submit(guaranteed_pod("db", "1Gi"), guaranteed_pod("huge", "64Gi"))
    client.post(f"/api/v1/scenarios/{owner.id}/restart", "{}", content_type="application/json", **owner.auth)
    owner.submit(guaranteed_pod("bad", "1Gi"), token="wrong")  # 403: nothing stored, nothing counted
    assert delta('playground_admissions_total{result="admitted"}') == 1
    assert delta('playground_admissions_total{result="rejected"}') == 1
    assert delta('playground_kubelet_restarts_total{result="started"}') == 1
    # Three POSTs: two pods in one request, the restart, the refused submission.
    assert delta('playground_http_requests_total{method="POST"}') == 3
    assert delta('playground_http_requests_total{method="GET"}') >= 1


def test_websocket_gauge_moves_with_connections() -> None:
    from playground import metrics

    client = Client()
    before = server_samples(client)
    metrics.websocket_connected()
    metrics.websocket_connected()
    metrics.websocket_disconnected()
    after = server_samples(client)
    assert after["playground_websocket_clients{}"] - before["playground_websocket_clients{}"] == 1
    connections = "playground_websocket_connections_total{}"
    assert after[connections] - before[connections] == 2


def test_multiprocess_mode_sums_the_processes(
    tmp_path: Path, python_executable: str, repo_root: Path
) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, /metrics adds up what every process wrote to the directory."""
    import os
    import subprocess

    script = (
        "import django, sys\n"
        "django.setup()\n"
        "from playground import metrics\n"
        "metrics.ADMISSIONS.labels('admitted').inc(int(sys.argv[1]))\n"
        "metrics.websocket_connected()\n"
        "if sys.argv[2] == 'scrape':\n"
        "    print(metrics.metrics_view(None).content.decode())\n"
    )
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "playground.settings",
        "PYTHONPATH": str(repo_root),
    }
    subprocess.run([python_executable, "-c", script, "2", "-"], env=env, check=True, cwd=repo_root)
    done = subprocess.run(
        [python_executable, "-c", script, "3", "scrape"],
        env=env,
        check=True,
        cwd=repo_root,
        capture_output=True,
        text=True,
    )
    samples = {
        series_key(sample.name, dict(sample.labels)): sample.value
        for family in text_string_to_metric_families(done.stdout)
        for sample in family.samples
    }
    assert samples['playground_admissions_total{result="admitted"}'] == 5
