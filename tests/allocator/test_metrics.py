"""The kubelet's metric series and when each one moves (``metrics/README.md``).

Every ``metrics/*.metrics.json`` file recorded from the real kubelet is replayed step by step, and
the counting rules are also pinned one by one on small machines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from allocator import MemoryManager, parse_scenario
from allocator.metrics import Metrics, series_key

GI = 1 << 30
MI = 1 << 20
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
METRIC_FILES = sorted((EXAMPLES / "metrics").glob("*.metrics.json"))

REQ = "kubelet_topology_manager_admission_requests_total{}"
DUR = "kubelet_topology_manager_admission_duration_ms_count{}"
ERR = "kubelet_topology_manager_admission_errors_total{}"
PIN = "kubelet_memory_manager_pinning_requests_total{}"
PIN_ERR = "kubelet_memory_manager_pinning_errors_total{}"
ALIGNED_C = 'kubelet_container_aligned_compute_resources_count{boundary="numa_node",scope="container"}'
ALIGNED_P = 'kubelet_container_aligned_compute_resources_count{boundary="numa_node",scope="pod"}'
FAIL_C = 'kubelet_container_aligned_compute_resources_failure_count{boundary="numa_node",scope="container"}'
FAIL_P = 'kubelet_container_aligned_compute_resources_failure_count{boundary="numa_node",scope="pod"}'


def test_there_are_recorded_metrics() -> None:
    assert len(METRIC_FILES) >= 71


@pytest.mark.parametrize(
    "path", METRIC_FILES, ids=[p.name.removesuffix(".metrics.json") for p in METRIC_FILES]
)
def test_recorded_metrics_after_every_step(path: Path) -> None:
    recorded = json.loads(path.read_text())
    doc = json.loads((EXAMPLES / "vectors" / f"{recorded['name']}.json").read_text())
    mm = MemoryManager.from_scenario(parse_scenario(doc))
    for index, (step, expected) in enumerate(zip(doc["steps"], recorded["steps"], strict=True)):
        mm.apply({k: v for k, v in step.items() if k != "expect"})
        assert mm.metrics() == expected["metrics"], f"step {index}"


def test_series_key_format() -> None:
    assert series_key("x_total") == "x_total{}"
    assert series_key("x", {"scope": "pod", "boundary": "numa_node"}) == 'x{boundary="numa_node",scope="pod"}'
    assert list(Metrics().series()) == sorted(Metrics().series())


def _manager(policy: str, scope: str = "container", nodes: int = 2) -> MemoryManager:
    return MemoryManager.from_scenario(
        parse_scenario(
            {
                "name": "m",
                "machine": {"numa_nodes": [{"id": i, "memory": 5 * GI + 512 * MI} for i in range(nodes)]},
                "kubelet": {
                    "topology_manager_policy": policy,
                    "topology_manager_scope": scope,
                    "reserved_memory": [
                        {"numa_node": i, "limits": {"memory": 512 * MI}} for i in range(nodes)
                    ],
                },
                "steps": [],
            }
        )
    )


def _pod(uid: str, *memory: str, guaranteed: bool = True) -> dict[str, Any]:
    def container(i: int, m: str) -> dict[str, Any]:
        values = {"cpu": "1", "memory": m}
        return {
            "name": f"c{i}",
            "resources": {"requests": values, **({"limits": values} if guaranteed else {})},
        }

    return {
        "metadata": {"name": uid, "uid": uid},
        "spec": {"containers": [container(i, m) for i, m in enumerate(memory)]},
    }


def _admit(mm: MemoryManager, doc: dict[str, Any]) -> dict[str, int]:
    mm.apply({"op": "admit", "pod": doc})
    return mm.metrics()


def test_policy_none_has_no_aligned_series_and_counts_no_admission_errors() -> None:
    mm = _manager("none")
    assert ALIGNED_C not in mm.metrics()
    for uid in ("a", "b", "c"):
        series = _admit(mm, _pod(uid, "4Gi"))
    # The third pod fails in Allocate: a pinning error, but the none scope counts no admission error.
    assert series[REQ] == series[DUR] == 3
    assert series[PIN] == 3 and series[PIN_ERR] == 1 and series[ERR] == 0


def test_single_numa_node_container_scope_counts_each_aligned_container_and_merge_failures() -> None:
    mm = _manager("single-numa-node")
    series = _admit(mm, _pod("a", "1Gi", "1Gi"))
    assert series[ALIGNED_C] == 2 and series[ALIGNED_P] == 0
    series = _admit(_manager("single-numa-node"), _pod("b", "6Gi"))  # only {0,1} fits: merge refuses
    assert series[FAIL_C] == 1 and series[ERR] == 1 and series[PIN] == 0


def test_an_allocate_failure_is_not_an_alignment_failure() -> None:
    mm = _manager("single-numa-node")
    _admit(mm, _pod("a", "4Gi"))
    _admit(mm, _pod("b", "4Gi"))
    series = _admit(mm, _pod("c", "4Gi"))  # no mask fits: {} hints pass the merge, Allocate fails
    assert series[ERR] == 1 and series[PIN_ERR] == 1 and series[FAIL_C] == 0 and series[ALIGNED_C] == 2


def test_pod_scope_counts_once_per_pod() -> None:
    mm = _manager("single-numa-node", scope="pod")
    series = _admit(mm, _pod("a", "1Gi", "1Gi", "1Gi"))
    assert series[ALIGNED_P] == 1 and series[ALIGNED_C] == 0 and series[PIN] == 3
    series = _admit(_manager("single-numa-node", scope="pod"), _pod("b", "6Gi"))
    assert series[FAIL_P] == 1 and series[PIN] == 0  # rejected by the merge: no Allocate at all


def test_best_effort_keeps_aligned_series_at_zero_and_non_guaranteed_pods_do_not_pin() -> None:
    mm = _manager("best-effort")
    series = _admit(mm, _pod("a", "1Gi", guaranteed=False))
    assert series[ALIGNED_C] == 0 and series[FAIL_C] == 0 and series[PIN] == 0 and series[REQ] == 1


def test_remove_changes_nothing_and_readmission_pins_again() -> None:
    mm = _manager("restricted")
    doc = _pod("a", "1Gi")
    before = _admit(mm, doc)
    mm.apply({"op": "remove", "pod_uid": "nobody"})
    assert mm.metrics() == before
    after = _admit(mm, doc)  # same UID, blocks already there: Allocate counts before it short-circuits
    assert after[PIN] == before[PIN] + 1 and after[PIN_ERR] == 0
