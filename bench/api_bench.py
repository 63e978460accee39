"""Admissions per second through the REST API: a real Daphne process on SQLite, HTTP clients in threads.

Each run starts from a fresh scenario (two NUMA nodes, single-numa-node policy) and POSTs ``--pods``
Guaranteed pods, ``--batch`` per request (one by default), from ``--clients`` concurrent keep-alive
connections (the lean asyncio client of ``lean_http.py``, so the client takes little of the shared CPU). The
figure is acknowledged admissions (201) per wall-clock second; the median of ``--runs`` runs is
reported, with every run's figure and the p50/p99 request latency. Because the machine may be shared,
it also reports admissions per CPU-second of the server process (what one dedicated core would do)
and the load average during the runs.

    .venv/bin/python bench/api_bench.py [--pods 500] [--runs 5] [--clients 4] [--batch N] [--light] [--json]

The server uses its own temporary data directory (SQLite, WAL, in-memory channel layer): the
embedded default, as ``scripts/run.sh`` starts it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson

# bench/ is on sys.path when run as a script (and load.py imports this module the same way).
from lean_http import LeanHTTPConnection, LeanHTTPError

REPO = Path(__file__).resolve().parents[1]
DAPHNE = Path(sys.executable).with_name("daphne")

SCENARIO = {
    "name": "api bench",
    "machine": {"numa_nodes": [{"id": 0, "memory": "512Gi"}, {"id": 1, "memory": "512Gi"}]},
    "kubelet": {
        "topology_manager_policy": "single-numa-node",
        "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
    },
}


def pod(name: str) -> dict[str, Any]:
    resources = {"cpu": "1", "memory": "64Mi"}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "resources": {"requests": resources, "limits": resources}}]},
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    env = {
        **os.environ,
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "playground.settings",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "DEBUG"):
        env.pop(name, None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True
    )
    port = free_port()
    command = [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "playground.asgi:application"]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=1) as answer:
                if answer.status == 200:
                    return process, url
        except (OSError, urllib.error.URLError):
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("daphne did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc): the server's own cost, whatever else runs."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def submit_all(
    url: str, public_id: str, token: str, pods: int, clients: int, run: int, batch: int, light: bool
) -> tuple[list[float], list[int]]:
    """``clients`` keep-alive connections taking the next ``batch`` pods until all are sent: each
    request's latency, and one status per pod (0: no answer)."""
    latencies: list[float] = []
    statuses: list[int] = []
    next_index = iter(range(0, pods, batch))
    path = f"/api/v1/scenarios/{public_id}/pods" + ("?light=true" if light else "")

    async def client_loop() -> None:
        async with LeanHTTPConnection(url, {"Authorization": f"Bearer {token}"}, timeout=60) as client:
            for index in next_index:  # one shared iterator: each batch goes to exactly one client
                names = [f"r{run}-p{i}" for i in range(index, min(index + batch, pods))]
                body = orjson.dumps(pod(names[0]) if batch == 1 else [pod(name) for name in names])
                started = time.perf_counter()
                try:
                    response = await client.request("POST", path, body, "application/json")
                    status = response.status
                except LeanHTTPError:
                    status = 0
                latencies.append(time.perf_counter() - started)
                statuses.extend([status] * len(names))

    await asyncio.gather(*(client_loop() for _ in range(clients)))
    return latencies, statuses


async def create_scenario(url: str) -> tuple[str, str]:
    async with LeanHTTPConnection(url, timeout=30) as setup:
        created = (await setup.post_json("/api/v1/scenarios", SCENARIO)).json()
    return created["id"], created["edit_token"]


def one_run(
    url: str, pods: int, clients: int, run: int, pid: int, batch: int = 1, light: bool = False
) -> dict[str, Any]:
    public_id, token = asyncio.run(create_scenario(url))
    cpu_before = cpu_seconds(pid)
    client_cpu_before = time.process_time()
    started = time.perf_counter()
    latencies, statuses = asyncio.run(submit_all(url, public_id, token, pods, clients, run, batch, light))
    wall = time.perf_counter() - started
    cpu = cpu_seconds(pid) - cpu_before
    client_cpu = time.process_time() - client_cpu_before
    if statuses.count(201) != pods:
        raise RuntimeError(f"run {run}: {pods - statuses.count(201)} submissions were not acknowledged")
    latencies.sort()
    return {
        "admissions_per_s": pods / wall,
        "admissions_per_cpu_s": pods / cpu if cpu > 0 else float("inf"),
        "client_cpu_ms_per_request": 1000 * client_cpu / len(latencies),
        "wall_s": wall,
        "p50_ms": 1000 * latencies[len(latencies) // 2],
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=500, help="submissions per run (default 500)")
    parser.add_argument("--runs", type=int, default=5, help="runs; the median is reported (default 5)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent HTTP connections (default 4)")
    parser.add_argument("--batch", type=int, default=1, help="pods per request (a list of pods; default 1)")
    parser.add_argument(
        "--light", action="store_true", help="?light=true: outcomes in the answers without the checkpoint"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        process, url = start_server(Path(tmp))
        try:
            # warm-up: imports, connections
            one_run(url, min(args.pods, 50), args.clients, -1, process.pid, args.batch, args.light)
            runs = [
                one_run(url, args.pods, args.clients, run, process.pid, args.batch, args.light)
                for run in range(args.runs)
            ]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=10)
    rates = [run["admissions_per_s"] for run in runs]
    result = {
        "median_admissions_per_s": statistics.median(rates),
        "runs": [round(rate, 1) for rate in rates],
        "median_admissions_per_server_cpu_s": statistics.median(run["admissions_per_cpu_s"] for run in runs),
        "median_client_cpu_ms_per_request": statistics.median(
            run["client_cpu_ms_per_request"] for run in runs
        ),
        "load_average_1m": os.getloadavg()[0],
        "median_p50_ms": statistics.median(run["p50_ms"] for run in runs),
        "median_p99_ms": statistics.median(run["p99_ms"] for run in runs),
        "pods_per_run": args.pods,
        "clients": args.clients,
        "pods_per_request": args.batch,
        "light": args.light,
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['median_admissions_per_s']:.0f} admissions/s "
            f"(median of {args.runs} runs of {args.pods} pods, "
            f"{args.clients} clients, {args.batch} pod(s) per request"
            f"{', light answers' if args.light else ''}; runs: {result['runs']}); "
            f"request p50 {result['median_p50_ms']:.1f} ms, "
            f"p99 {result['median_p99_ms']:.1f} ms; "
            f"{result['median_admissions_per_server_cpu_s']:.0f} admissions per server CPU-second; "
            f"client {result['median_client_cpu_ms_per_request']:.2f} ms CPU per request; "
            f"load average {result['load_average_1m']:.1f} on {result['cpus']} CPUs"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
