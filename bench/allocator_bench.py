"""Time the allocator's admissions the way the real kubelet Go code was timed.

    .venv/bin/python bench/allocator_bench.py            # all four workloads, the Go method
    .venv/bin/python bench/allocator_bench.py --quick    # 2 processes x 5 passes, for a rough look

Method (``tests/data/kubelet-examples/go-timing.md`` and ``perf/go-timing-long.md``):

* **Per-admission workloads** (``perf-2numa-100-small``, ``perf-8numa-100-mixed``,
  ``perf-8numa-snn-3ctr``): the document is loaded and parsed, and every pod validated, before any
  timing. One pass builds a fresh manager (not timed) and replays every step; only the ``admit``
  steps are timed, each on its own with a monotonic clock, and ``remove`` steps run untimed. The
  figure of a pass is the sum over its admit steps divided by their number (100). Each process
  does 1 warm-up pass and 15 timed passes and reports its median pass; the whole is run in 5
  separate processes and the result is the median of the 5 process medians. Go: 137, 426 and
  1,369 microseconds per admission (``mem`` back-end: state in memory, no checkpoint file).
* **The long history** (``perf-long-10000``): one run is the whole replay, from before the manager
  is created to after the last of its 10,000 steps, removes included. Each process does 1 warm-up
  run and 5 timed runs and reports their median; 3 processes; the result is the median of the 3.
  Go: 878 ms (``mem``).

One difference in what an ``admit`` step does: the Go driver only made the kubelet's calls, while
``MemoryManager.apply`` also builds the step's outcome record (hints, blocks, states, checkpoint)
and the explanation, as every user of the engine receives them. That work is inside the timed
region here, so the figures are, if anything, pessimistic for the allocator.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
PERF_DIR = REPO_ROOT / "tests" / "data" / "kubelet-examples" / "perf"

if str(REPO_ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO_ROOT))

from allocator.manager import MemoryManager  # noqa: E402
from allocator.scenario import Scenario, parse_scenario  # noqa: E402


@dataclass(frozen=True, slots=True)
class Workload:
    """One timed workload and the real Go code's figure on it (``mem`` back-end)."""

    name: str
    go_figure: float  # microseconds per admission, or milliseconds per whole replay
    unit: str
    whole_replay: bool = False

    @property
    def path(self) -> Path:
        return PERF_DIR / f"{self.name}.json"


WORKLOADS = (
    Workload("perf-2numa-100-small", 137.0, "us/admission"),
    Workload("perf-8numa-100-mixed", 425.5, "us/admission"),
    Workload("perf-8numa-snn-3ctr", 1368.8, "us/admission"),
    Workload("perf-long-10000", 878.0, "ms/replay", whole_replay=True),
)
GO_PROCESSES = {False: 5, True: 3}
GO_PASSES = {False: 15, True: 5}


def load_scenario(workload: Workload) -> Scenario:
    """Read, parse and validate (every pod decoded once) before anything is timed."""
    doc = json.loads(workload.path.read_text(encoding="utf-8"))
    return parse_scenario(doc)


def _steps(scenario: Scenario) -> list[dict[str, Any]]:
    return [{key: value for key, value in step.items() if key != "expect"} for step in scenario.steps]


# ``wall`` is the Go method (a monotonic wall clock). ``cpu`` counts only this thread's CPU time:
# on a shared, overloaded machine it is the closer estimate of what an idle machine's wall clock
# would read, since time spent waiting for a core is left out.
Clock = Callable[[], int]
CLOCKS: dict[str, Clock] = {"wall": time.perf_counter_ns, "cpu": time.thread_time_ns}


def admission_pass(scenario: Scenario, steps: list[dict[str, Any]], clock: Clock) -> float:
    """One pass: microseconds per admit step, timing only the admit steps."""
    manager = MemoryManager.from_scenario(scenario)
    total_ns = 0
    admits = 0
    for step in steps:
        if step["op"] == "admit":
            start = clock()
            manager.apply(step)
            total_ns += clock() - start
            admits += 1
        else:
            manager.apply(step)
    return total_ns / admits / 1000


def whole_replay(scenario: Scenario, steps: list[dict[str, Any]], clock: Clock) -> float:
    """One run: milliseconds for the whole replay, manager creation included."""
    start = clock()
    manager = MemoryManager.from_scenario(scenario)
    for step in steps:
        manager.apply(step)
    return (clock() - start) / 1e6


def worker(name: str, passes: int, clock: Clock) -> dict[str, Any]:
    """What one process measures: a warm-up pass, then ``passes`` timed passes."""
    workload = next(item for item in WORKLOADS if item.name == name)
    scenario = load_scenario(workload)
    steps = _steps(scenario)
    measure = whole_replay if workload.whole_replay else admission_pass
    measure(scenario, steps, clock)  # warm-up
    figures = [measure(scenario, steps, clock) for _ in range(passes)]
    return {"name": name, "passes": figures, "median": statistics.median(figures)}


def run_processes(workload: Workload, processes: int, passes: int, clock_name: str) -> list[dict[str, Any]]:
    """Run the worker in separate interpreters, one after the other (never in parallel)."""
    results = []
    for _ in range(processes):
        command = [
            sys.executable,
            __file__,
            "--worker",
            workload.name,
            "--passes",
            str(passes),
            "--clock",
            clock_name,
        ]
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(completed.stdout))
    return results


def machine_note() -> str:
    """CPU count and model, Python and kernel: the figures mean little without them."""
    model = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", load average " + " ".join(f"{value:.1f}" for value in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}{load}"
    )


def report(workload: Workload, results: list[dict[str, Any]]) -> dict[str, Any]:
    medians = [result["median"] for result in results]
    every_pass = [figure for result in results for figure in result["passes"]]
    figure = statistics.median(medians)
    return {
        "workload": workload.name,
        "unit": workload.unit,
        "median": round(figure, 1),
        "process_medians": [round(value, 1) for value in medians],
        "pass_min": round(min(every_pass), 1),
        "pass_max": round(max(every_pass), 1),
        "go": workload.go_figure,
        "ratio_to_go": round(figure / workload.go_figure, 3),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--passes", type=int, help="timed passes per process (Go method: 15, long: 5)")
    parser.add_argument("--processes", type=int, help="separate processes (Go method: 5, long: 3)")
    parser.add_argument("--quick", action="store_true", help="2 processes x 5 passes (long: 1 x 2)")
    parser.add_argument("--only", action="append", help="run only this workload (repeatable)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall", help="wall (the Go method) or cpu")
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(worker(args.worker, args.passes or 1, CLOCKS[args.clock])))
        return 0

    rows = []
    for workload in WORKLOADS:
        if args.only and workload.name not in args.only:
            continue
        long = workload.whole_replay
        processes = args.processes or ((1 if long else 2) if args.quick else GO_PROCESSES[long])
        passes = args.passes or ((2 if long else 5) if args.quick else GO_PASSES[long])
        row = report(workload, run_processes(workload, processes, passes, args.clock))
        row["method"] = f"{processes} processes x (1 warm-up + {passes} passes), {args.clock} clock"
        rows.append(row)
        if not args.json:
            print(
                f"{row['workload']:<22} {row['median']:>10.1f} {row['unit']:<13} "
                f"Go {row['go']:>7.1f}  ratio {row['ratio_to_go']:.2f}x  "
                f"(process medians {row['process_medians']}, passes {row['pass_min']}-{row['pass_max']}, "
                f"{row['method']})",
                flush=True,
            )
    if args.json:
        print(json.dumps({"machine": machine_note(), "results": rows}, indent=2))
    else:
        print(f"machine: {machine_note()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
