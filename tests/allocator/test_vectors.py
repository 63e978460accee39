"""Differential tests: every scenario recorded from the real kubelet v1.36.2 replays exactly.

One test per file of ``vectors/``, ``big-numa/``, ``perf/`` and ``restart/`` (ids are the file
names), and one per ``metrics/`` file. Each compares the whole outcome of every step with the
recorded ``expect`` block through the same checker as ``replay --check``, and fails with the
first differing JSON path of every mismatching step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from allocator.replay import check_run, first_difference, run_document

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "kubelet-examples"
SCENARIO_FOLDERS = ("vectors", "big-numa", "perf", "restart")
# Replays that take seconds rather than milliseconds (10,000 steps).
SLOW = {"perf-long-10000.json"}


def _scenario_files() -> list[Path]:
    return sorted(path for folder in SCENARIO_FOLDERS for path in (EXAMPLES / folder).glob("*.json"))


def _params(paths: list[Path]) -> list[Any]:
    return [
        pytest.param(path, id=path.name, marks=[pytest.mark.slow] if path.name in SLOW else [])
        for path in paths
    ]


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_folder_has_scenarios() -> None:
    """The parametrisation below must not silently shrink (a moved or renamed data folder)."""
    counts = {folder: len(list((EXAMPLES / folder).glob("*.json"))) for folder in SCENARIO_FOLDERS}
    assert all(count > 0 for count in counts.values()), counts
    assert counts["vectors"] == len(list((EXAMPLES / "metrics").glob("*.metrics.json")))


@pytest.mark.parametrize("path", _params(_scenario_files()))
def test_scenario_replays_exactly(path: Path) -> None:
    doc = _load(path)
    run = run_document(doc)
    mismatches = check_run(doc, run)
    report = "\n".join(mismatch.describe() for mismatch in mismatches[:20])
    assert not mismatches, f"{len(mismatches)} step(s) differ from the real kubelet:\n{report}"
    # The replay produced exactly the recorded steps: one outcome per step, or none at all when
    # the kubelet refuses the configuration.
    if doc.get("config_error") is not None:
        assert "steps" not in run.result
    else:
        assert len(run.result["steps"]) == len(doc["steps"])


def _metrics_files() -> list[Path]:
    return sorted((EXAMPLES / "metrics").glob("*.metrics.json"))


@pytest.mark.parametrize("metrics_path", _params(_metrics_files()))
def test_metrics_after_every_step(metrics_path: Path) -> None:
    recorded = _load(metrics_path)
    doc = _load(EXAMPLES / "vectors" / f"{recorded['name']}.json")
    steps = run_document(doc, metrics=True).result["steps"]
    assert len(steps) == len(recorded["steps"])
    differences = [
        (index, difference)
        for index, (expected, outcome) in enumerate(zip(recorded["steps"], steps, strict=True))
        if (difference := first_difference(expected["metrics"], outcome["metrics"], "metrics")) is not None
    ]
    report = "\n".join(f"step {index}: {difference.describe()}" for index, difference in differences)
    assert not differences, f"metrics differ from the real kubelet:\n{report}"
