"""Replaying scenario documents, and checking the outcomes against recorded kubelet output.

``python -m allocator replay FILE...`` prints one JSON line per file: ``{"name", "steps": [...]}``
(or ``{"name", "config_error": {...}}`` when the kubelet would refuse to start). ``--check`` compares
every outcome with the file's ``expect`` blocks and prints, per mismatching step, the file, the
step and the first differing JSON path; ``--metrics`` adds the kubelet's metric series after every
step. See ``spec/scenario-format.md``.

Exit codes: 0 everything matched (or replayed), 1 an outcome differs (or the engine failed),
2 malformed input (not JSON, wrong types, a quantity or a pod that does not parse), with the JSON
path of the problem.

The recorded output has three shapes the checker understands, all described in the examples'
READMEs: full ``expect`` blocks (every key compared, nothing extra allowed), ``hints_digest``
in place of hint lists longer than 511 (compared by count, preferred hints and SHA-256), and the
reduced blocks of long histories (only the keys present are compared).
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from allocator.errors import ConfigError, InputError
from allocator.manager import MemoryManager
from allocator.scenario import Scenario, join_path, parse_scenario

EXIT_OK = 0
EXIT_DIFFERENT = 1
EXIT_INPUT = 2

# A block that records the full outcome of an admit, remove or restart step always carries
# ``state_after``; one without it (and that is not a panic) is a reduced block.
_FULL_BLOCK_MARKERS = ("state_after", "panic")


# --- replay -------------------------------------------------------------------------------------


@dataclass(slots=True)
class ReplayRun:
    """A replayed document: the printed ``result`` plus the engine's ``initial_state`` (for checks)."""

    result: dict[str, Any]
    initial_state: dict[str, Any] | None = None


def _with_uid(step: dict[str, Any], index: int) -> dict[str, Any]:
    """Give an ``admit`` step's pod a UID when it has none (the spec: "the caller generates one").

    The pod's name is used, so the choice is deterministic and a ``remove`` step can name the pod.
    """
    if step.get("op") != "admit":
        return step
    metadata = step["pod"].get("metadata") or {}
    if metadata.get("uid"):
        return step
    step = copy.deepcopy(step)
    metadata = step["pod"].setdefault("metadata", {})
    metadata["uid"] = metadata.get("name") or f"step-{index}"
    return step


def _is_final(result: Mapping[str, Any], op: str) -> bool:
    """A panicking step ends the kubelet process; so does a restart that fails to start it."""
    if set(result) == {"panic"}:
        return True
    return op == "restart" and result.get("started") is False


def run_scenario(scenario: Scenario, metrics: bool = False) -> ReplayRun:
    """Build the managers as the kubelet starts them, then apply every step in order."""
    try:
        manager = MemoryManager.from_scenario(scenario)
    except ConfigError as error:
        return ReplayRun({"name": scenario.name, "config_error": error.as_dict()})
    initial_state = manager.initial_state()
    outcomes: list[dict[str, Any]] = []
    for index, raw_step in enumerate(scenario.steps):
        step = {key: value for key, value in raw_step.items() if key != "expect"}
        result = dict(manager.apply(_with_uid(step, index)).result)
        if metrics:
            result["metrics"] = manager.metrics()
        outcomes.append(result)
        if _is_final(result, step["op"]):
            break
    return ReplayRun({"name": scenario.name, "steps": outcomes}, initial_state)


def run_document(doc: Mapping[str, Any], metrics: bool = False) -> ReplayRun:
    """Parse (``InputError`` on malformed input) and replay one scenario document."""
    return run_scenario(parse_scenario(doc), metrics=metrics)


def replay_document(doc: dict[str, Any], metrics: bool = False) -> dict[str, Any]:
    """``{"name", "steps": [outcome...]}``, or ``{"name", "config_error"}`` if the kubelet will not start."""
    return run_document(doc, metrics=metrics).result


# --- comparison ---------------------------------------------------------------------------------


def hints_digest(hints: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The big-numa README's digest of a hint map: per resource its count, preferred hints and SHA-256.

    The hash covers the whole list as compact JSON in the order the code produced it, each hint
    written as ``{"numa_affinity":[ids],"preferred":bool}``.
    """
    digest = {}
    for resource, hint_list in hints.items():
        hint_objects = [
            {"numa_affinity": hint["numa_affinity"], "preferred": hint["preferred"]} for hint in hint_list
        ]
        text = json.dumps(hint_objects, separators=(",", ":"))
        digest[resource] = {
            "count": len(hint_objects),
            "preferred": [hint for hint in hint_objects if hint["preferred"]],
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    return digest


@dataclass(frozen=True, slots=True)
class Difference:
    """The first place two JSON values differ."""

    path: str
    expected: Any
    got: Any
    missing: bool = False  # the key exists in the expectation only
    extra: bool = False  # the key exists in the outcome only

    def describe(self) -> str:
        where = self.path or "<root>"
        if self.missing:
            return f"{where}: missing (expected {_short(self.expected)})"
        if self.extra:
            return f"{where}: unexpected key (got {_short(self.got)})"
        return f"{where}: expected {_short(self.expected)}, got {_short(self.got)}"


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, separators=(",", ":"), sort_keys=False, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _same_scalar(expected: Any, got: Any) -> bool:
    # Python says True == 1, JSON does not: a boolean only ever equals a boolean.
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(expected) is type(got) and expected == got
    return bool(expected == got)


def first_difference(expected: Any, got: Any, path: str = "") -> Difference | None:
    """Walk two JSON values in the expectation's order; objects compare as unordered maps."""
    if isinstance(expected, Mapping) and isinstance(got, Mapping):
        for key, value in expected.items():
            key_path = join_path(path, str(key))
            if key not in got:
                return Difference(key_path, value, None, missing=True)
            difference = first_difference(value, got[key], key_path)
            if difference is not None:
                return difference
        for key, value in got.items():
            if key not in expected:
                return Difference(join_path(path, str(key)), None, value, extra=True)
        return None
    if isinstance(expected, list) and isinstance(got, list):
        for index, (left, right) in enumerate(zip(expected, got, strict=False)):
            difference = first_difference(left, right, join_path(path, index))
            if difference is not None:
                return difference
        if len(expected) != len(got):
            return Difference(f"{path} (length)", len(expected), len(got))
        return None
    if _same_scalar(expected, got):
        return None
    return Difference(path, expected, got)


def _jsonable(value: Any) -> Any:
    """The value as the CLI prints it (tuples become lists, int keys become strings)."""
    return json.loads(json.dumps(value))


def _adapt_hints(expected: Mapping[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """Replace ``hints`` by its digest where the expectation records ``hints_digest``."""
    if "hints_digest" in expected and "hints" not in expected and "hints" in got:
        got = dict(got)
        hints = got.pop("hints")
        got["hints_digest"] = hints_digest(hints) if isinstance(hints, Mapping) else hints
    return got


def comparable_outcome(expect: Mapping[str, Any], outcome: Mapping[str, Any]) -> dict[str, Any]:
    """The outcome in the expectation's shape: digests for digested hints, only recorded keys if reduced."""
    reduced = not any(marker in expect for marker in _FULL_BLOCK_MARKERS)
    keys = [key for key in outcome if key in expect] if reduced else list(outcome)
    got = _adapt_hints(expect, {key: _jsonable(outcome[key]) for key in keys})
    entries = expect.get("container_hints")
    if isinstance(entries, list) and isinstance(got.get("container_hints"), list):
        got["container_hints"] = [
            _adapt_hints(entries[index], entry)
            if index < len(entries) and isinstance(entries[index], Mapping) and isinstance(entry, dict)
            else entry
            for index, entry in enumerate(got["container_hints"])
        ]
    return got


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One step (or the document header) whose outcome differs from the recorded one."""

    step: int | None  # None: the document itself (config_error, initial_state)
    label: str
    difference: Difference

    def describe(self) -> str:
        where = "document" if self.step is None else f"step {self.step} ({self.label})"
        return f"{where}: {self.difference.describe()}"


def _step_label(step: Mapping[str, Any]) -> str:
    op = step.get("op", "?")
    if op == "admit":
        metadata = (step.get("pod") or {}).get("metadata") or {}
        return f"admit {metadata.get('name', '?')}"
    if op == "remove":
        return f"remove {step.get('pod_uid', '?')}"
    return str(op)


def _expectations(
    doc: Mapping[str, Any], metrics_doc: Mapping[str, Any] | None
) -> Iterator[tuple[int, Mapping[str, Any], dict[str, Any]]]:
    """(index, step, expect) for every step with an expectation, metrics merged in when given."""
    metric_steps = (metrics_doc or {}).get("steps") or []
    for index, step in enumerate(doc.get("steps") or []):
        expect = dict(step.get("expect") or {}) if isinstance(step, Mapping) else {}
        if index < len(metric_steps) and "metrics" in metric_steps[index]:
            expect["metrics"] = metric_steps[index]["metrics"]
        if expect:
            yield index, step, expect


def check_run(
    doc: Mapping[str, Any], run: ReplayRun, metrics_doc: Mapping[str, Any] | None = None
) -> list[Mismatch]:
    """Every mismatch between a replay and the document's recorded output, one per step at most."""
    mismatches: list[Mismatch] = []
    expected_error = doc.get("config_error")
    got_error = run.result.get("config_error")
    if expected_error is not None or got_error is not None:
        difference = first_difference(expected_error, _jsonable(got_error), "config_error")
        if difference is not None:
            mismatches.append(Mismatch(None, "config_error", difference))
        if got_error is not None:
            return mismatches
    if doc.get("initial_state") is not None:
        difference = first_difference(doc["initial_state"], _jsonable(run.initial_state), "initial_state")
        if difference is not None:
            mismatches.append(Mismatch(None, "initial_state", difference))
    outcomes = run.result.get("steps") or []
    for index, step, expect in _expectations(doc, metrics_doc):
        label = _step_label(step)
        if index >= len(outcomes):
            stop = "the replay stopped earlier" if outcomes else "no step was replayed"
            mismatches.append(Mismatch(index, label, Difference(f"({stop})", expect, None, missing=True)))
            continue
        difference = first_difference(expect, comparable_outcome(expect, outcomes[index]))
        if difference is not None:
            mismatches.append(Mismatch(index, label, difference))
    if len(outcomes) > len(doc.get("steps") or []):
        extra = Difference("(steps)", len(doc.get("steps") or []), len(outcomes))
        mismatches.append(Mismatch(len(doc.get("steps") or []), "extra", extra))
    return mismatches


# --- command line -------------------------------------------------------------------------------


@dataclass(slots=True)
class FileReport:
    """What happened to one file on the command line."""

    path: str
    exit_code: int = EXIT_OK
    lines: list[str] = field(default_factory=list)


def load_json(path: Path) -> Any:
    """Read a JSON file; unreadable or invalid JSON is an :class:`InputError` at the document root."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise InputError("", f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError as error:
        raise InputError("", f"not UTF-8 text: {error}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError("", f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None


def find_metrics_file(path: Path, name: str) -> Path | None:
    """The recorded metrics of a vector: ``<name>.metrics.json`` beside it or in a sibling ``metrics/``."""
    for folder in (path.parent, path.parent.parent / "metrics"):
        candidate = folder / f"{name or path.stem}.metrics.json"
        if candidate.is_file():
            return candidate
    return None


def _named(result: dict[str, Any], path: Path) -> dict[str, Any]:
    """A document without a ``name`` is named after its file."""
    return result if result.get("name") else {**result, "name": path.stem}


def _replay_file(path: Path, metrics: bool, out: TextIO) -> FileReport:
    report = FileReport(str(path))
    doc = load_json(path)
    result = _named(replay_document(doc, metrics=metrics), path)
    out.write(json.dumps(result, separators=(",", ":")) + "\n")
    return report


def _check_file(path: Path, metrics: bool) -> FileReport:
    report = FileReport(str(path))
    doc = load_json(path)
    run = run_document(doc, metrics=metrics)
    metrics_doc = None
    if metrics and isinstance(doc, Mapping):
        metrics_path = find_metrics_file(path, str(doc.get("name") or ""))
        metrics_doc = load_json(metrics_path) if metrics_path else None
    mismatches = check_run(doc, run, metrics_doc)
    steps = len(run.result.get("steps") or [])
    if mismatches:
        report.exit_code = EXIT_DIFFERENT
        report.lines = [f"{path}: {mismatch.describe()}" for mismatch in mismatches]
        report.lines.append(f"FAIL {path}: {len(mismatches)} mismatch(es) in {steps} step(s)")
    else:
        checked = " with metrics" if metrics_doc is not None else ""
        outcome = "config_error" if "config_error" in run.result else f"{steps} step(s)"
        report.lines = [f"ok   {path}: {outcome}{checked}"]
    return report


def _run_file(path: Path, check: bool, metrics: bool, out: TextIO) -> FileReport:
    try:
        return _check_file(path, metrics) if check else _replay_file(path, metrics, out)
    except InputError as error:
        where = error.path or "<document>"
        return FileReport(str(path), EXIT_INPUT, [f"{path}: invalid input at {where}: {error.message}"])
    except Exception as error:  # the engine must never crash: report it as a failure of this file
        return FileReport(
            str(path), EXIT_DIFFERENT, [f"{path}: replay failed: {type(error).__name__}: {error}"]
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m allocator replay",
        description="Replay scenario documents through the kubelet Memory Manager and Topology Manager.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="scenario JSON documents")
    parser.add_argument("--check", action="store_true", help="compare outcomes with the files' expect blocks")
    parser.add_argument("--metrics", action="store_true", help="add the kubelet metric series to every step")
    return parser


def main(argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """``replay [--check] [--metrics] FILE...``; returns the exit code (0, 1 differs, 2 bad input)."""
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(list(argv) if argv is not None else None)
    except SystemExit as exit_:  # argparse: usage errors are malformed input too
        return EXIT_INPUT if exit_.code else EXIT_OK
    exit_code = EXIT_OK
    failed = 0
    for name in args.files:
        report = _run_file(Path(name), args.check, args.metrics, out)
        # Verdicts of --check go to stdout; malformed input (and any failure of plain replay) to stderr.
        stream = out if args.check and report.exit_code != EXIT_INPUT else err
        for line in report.lines:
            stream.write(line + "\n")
        failed += report.exit_code != EXIT_OK
        exit_code = max(exit_code, report.exit_code)
    if args.check and len(args.files) > 1:
        out.write(f"{len(args.files) - failed}/{len(args.files)} files match\n")
    out.flush()
    return exit_code
