"""``python -m allocator replay`` as a user runs it: output lines, --check verdicts, exit codes."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
REPO_ROOT = Path(__file__).resolve().parents[2]
VECTOR = EXAMPLES / "vectors" / "mirror-tm-scope-pod-vs-container.json"


def run_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "allocator", *map(str, args)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def write_json(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_replay_prints_one_json_line_per_file() -> None:
    files = [VECTOR, EXAMPLES / "vectors" / "gen-000.json"]
    completed = run_cli("replay", *files)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert len(lines) == 2
    for line, path in zip(lines, files, strict=True):
        result = json.loads(line)
        doc = load(path)
        assert result["name"] == doc["name"]
        assert len(result["steps"]) == len(doc["steps"])
        # Each outcome has exactly the keys of its recorded expect block.
        for outcome, step in zip(result["steps"], doc["steps"], strict=True):
            assert set(outcome) == set(step["expect"])


def test_replay_is_deterministic() -> None:
    files = [VECTOR, EXAMPLES / "big-numa" / "nc-13-prefer-closest-id-indexed-distances.json"]
    first, second = run_cli("replay", "--metrics", *files), run_cli("replay", "--metrics", *files)
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout


def test_check_passes_on_recorded_output() -> None:
    completed = run_cli("replay", "--check", VECTOR, EXAMPLES / "big-numa" / "cfg-12-restricted-max-10.json")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "2/2 files match" in completed.stdout


def test_check_names_file_step_and_first_differing_path(tmp_path: Path) -> None:
    doc = load(VECTOR)
    tampered = copy.deepcopy(doc)
    memory = tampered["steps"][1]["expect"]["state_after"]["0"]["memory"]
    memory["free"] += 1
    tampered["steps"][1]["expect"]["checkpoint"]["machineState"]["0"]["memoryMap"]["memory"]["free"] += 1
    path = write_json(tmp_path / "tampered.json", tampered)
    completed = run_cli("replay", "--check", path)
    assert completed.returncode == 1
    mismatch_lines = [line for line in completed.stdout.splitlines() if "step 1" in line]
    assert len(mismatch_lines) == 1  # one line per mismatching step: the first differing path only
    assert str(path) in mismatch_lines[0]
    assert "state_after.0.memory.free" in mismatch_lines[0]
    assert f"expected {memory['free']}, got {memory['free'] - 1}" in mismatch_lines[0]


def test_check_with_metrics_reads_the_sibling_metrics_file(tmp_path: Path) -> None:
    ok = run_cli("replay", "--check", "--metrics", EXAMPLES / "vectors" / "gen-001.json")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "with metrics" in ok.stdout

    (tmp_path / "vectors").mkdir()
    (tmp_path / "metrics").mkdir()
    vector = write_json(tmp_path / "vectors" / "gen-001.json", load(EXAMPLES / "vectors" / "gen-001.json"))
    metrics = load(EXAMPLES / "metrics" / "gen-001.metrics.json")
    metrics["steps"][0]["metrics"]["kubelet_topology_manager_admission_requests_total{}"] += 5
    write_json(tmp_path / "metrics" / "gen-001.metrics.json", metrics)
    bad = run_cli("replay", "--check", "--metrics", vector)
    assert bad.returncode == 1
    assert 'metrics["kubelet_topology_manager_admission_requests_total{}"]' in bad.stdout


def test_metrics_flag_adds_metrics_to_every_step() -> None:
    completed = run_cli("replay", "--metrics", VECTOR)
    assert completed.returncode == 0, completed.stderr
    result = json.loads(completed.stdout)
    recorded = load(EXAMPLES / "metrics" / f"{result['name']}.metrics.json")
    assert [step["metrics"] for step in result["steps"]] == [step["metrics"] for step in recorded["steps"]]


def test_config_error_and_panic_outcomes() -> None:
    refused = run_cli("replay", EXAMPLES / "big-numa" / "cfg-12-restricted-max-10.json")
    assert refused.returncode == 0, refused.stderr
    result = json.loads(refused.stdout)
    assert set(result) == {"name", "config_error"}
    assert result["config_error"]["error"] == "unsupported on machines with more than 10 NUMA Nodes"

    panicking = run_cli("replay", EXAMPLES / "big-numa" / "nc-0246-prefer-closest-position-distances.json")
    assert panicking.returncode == 0, panicking.stderr
    last = json.loads(panicking.stdout)["steps"][-1]
    assert last == {"panic": "runtime error: index out of range [4] with length 4"}


def _malformed_pod(doc: dict[str, Any]) -> dict[str, Any]:
    doc["steps"][0]["pod"]["spec"]["containers"][0]["resources"]["limits"]["memory"] = "1.5Gx"
    return doc


@pytest.mark.parametrize(
    ("content", "path"),
    [
        pytest.param("{not json", "<document>", id="not-json"),
        pytest.param("[]", "<document>", id="not-an-object"),
        pytest.param(
            {"machine": {"numa_nodes": [{"id": 0, "memory": "1Gi"}, {"id": 1, "memory": "2Qi"}]}},
            "machine.numa_nodes[1].memory",
            id="bad-quantity",
        ),
        pytest.param({"machine": {"numa_nodes": "two"}}, "machine.numa_nodes", id="wrong-type"),
        pytest.param(None, "steps[0].pod.spec.containers[0].resources.limits.memory", id="malformed-pod"),
    ],
)
def test_malformed_input_exits_2_naming_the_path(tmp_path: Path, content: Any, path: str) -> None:
    target = tmp_path / "bad.json"
    if content is None:
        write_json(target, _malformed_pod(load(VECTOR)))
    elif isinstance(content, str):
        target.write_text(content, encoding="utf-8")
    else:
        write_json(target, content)
    for args in (("replay", target), ("replay", "--check", target)):
        completed = run_cli(*args)
        assert completed.returncode == 2
        assert path in completed.stderr
        assert str(target) in completed.stderr


def test_one_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{", encoding="utf-8")
    completed = run_cli("replay", VECTOR, bad, tmp_path / "missing.json")
    assert completed.returncode == 2
    assert json.loads(completed.stdout)["name"] == load(VECTOR)["name"]
    assert "missing.json" in completed.stderr and "bad.json" in completed.stderr


def test_usage_errors_exit_2() -> None:
    assert run_cli().returncode == 2
    assert run_cli("frobnicate").returncode == 2
    assert run_cli("replay").returncode == 2
    assert run_cli("--help").returncode == 0


def test_other_commands_are_dispatched() -> None:
    state = EXAMPLES / "checkpoints" / "cp-gen-000-init.state"
    verified = run_cli("checkpoint", "verify", state)
    assert verified.returncode == 0, verified.stderr
    linted = run_cli("lint", VECTOR, "--json")
    assert linted.returncode == 0, linted.stderr
    assert "outcome" in json.loads(linted.stdout)


def test_a_document_without_name_is_named_after_its_file(tmp_path: Path) -> None:
    doc = load(VECTOR)
    del doc["name"]
    completed = run_cli("replay", write_json(tmp_path / "unnamed-node.json", doc))
    assert completed.returncode == 0, completed.stderr
    assert json.loads(completed.stdout)["name"] == "unnamed-node"
