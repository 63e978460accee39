"""Load: N websocket viewers and M writers against running playground servers, on loopback only.

Each run creates a fresh scenario through the first server, connects ``--viewers`` websocket viewers
spread round-robin over the servers (several ``--url``: several processes behind no proxy), then
``--writers`` concurrent writers, also spread over the servers, POST ``--admissions`` Guaranteed pods
in total, one pod per request. It reports:

- admissions/s: admission decisions acknowledged (201) per wall-clock second, first request sent to
  last answer received;
- submit-to-viewer latency: for every (event, viewer) pair, the time from the writer starting the
  request to the viewer receiving the event (one clock: one process), as p50 and p99; and how many
  of the expected deliveries never arrived within the deadline.

Runs are repeated (``--runs``) and the median of each figure reported with every run's value, because
the machine is shared. Everything is bounded: at most MAX_VIEWERS viewers, MAX_WRITERS writers,
MAX_ADMISSIONS admissions per run and ``--deadline`` seconds per run; only loopback addresses are
accepted, so the tool cannot be pointed at somebody else's server.

    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --viewers 100 --writers 4 --admissions 500
    .venv/bin/python bench/load.py --url http://127.0.0.1:8001 --url http://127.0.0.1:8002 ...

Start the servers first: ``scripts/run.sh`` (embedded default) or the README's "Running several server
processes".
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import re
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

# The same Guaranteed 64Mi pod the API benchmark submits (bench/ is on sys.path when run as a script).
from api_bench import pod
from websockets.asyncio.client import ClientConnection, connect

MAX_VIEWERS = 1000
MAX_WRITERS = 64
MAX_ADMISSIONS = 20_000
MAX_DEADLINE = 600.0

SCENARIO = {
    "name": "load bench",
    "machine": {"numa_nodes": [{"id": node, "memory": "1024Gi"} for node in range(4)]},
    "kubelet": {
        "topology_manager_policy": "single-numa-node",
        "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
    },
}
# An event message starts {"type": "event", "version": N, "event": {"version": N, "op": ..., "pod_name": ...:
# the viewers read the pod name from the first bytes instead of decoding the whole scenario view.
POD_NAME = re.compile(r'"pod_name":\s*"([^"]+)"')
EVENT = re.compile(r'^\{"type":\s*"event"')


def loopback_url(url: str) -> str:
    """The URL without a trailing slash; refuses anything that is not http on a loopback address."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme != "http":
        raise SystemExit(f"load.py: {url!r}: only http:// URLs of a local server")
    try:
        local = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise SystemExit(
            f"load.py: {url!r} is not a loopback address; the load tool only drives local servers"
        )
    return url.rstrip("/")


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (no interpolation: a reported p99 is a latency that happened)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def wait_ready(url: str, timeout: float = 60.0) -> None:
    """Wait for a server's health endpoint (a server just started may need a few seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{url}/api/v1/health", timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"load.py: {url} does not answer /api/v1/health")
        time.sleep(0.2)


@dataclass
class Run:
    admissions: int = 0
    rejected: int = 0
    errors: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    expected_deliveries: int = 0
    missed: int = 0

    @property
    def rate(self) -> float:
        return self.admissions / self.elapsed if self.elapsed else 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "admissions": self.admissions,
            "rejected": self.rejected,
            "errors": self.errors,
            "elapsed_s": round(self.elapsed, 3),
            "admissions_per_s": round(self.rate, 1),
            "latency_p50_ms": round(percentile(self.latencies, 0.50) * 1000, 1),
            "latency_p99_ms": round(percentile(self.latencies, 0.99) * 1000, 1),
            "deliveries": len(self.latencies),
            "missed_deliveries": self.missed,
        }


class Viewer:
    """One websocket viewer: records when each pod's event arrived."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.arrivals: dict[str, float] = {}

    async def listen(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                message = await self.connection.recv()
                now = time.perf_counter()
                head = message[:400] if isinstance(message, str) else message[:400].decode("utf-8", "replace")
                if EVENT.match(head) and (found := POD_NAME.search(head)):
                    self.arrivals.setdefault(found.group(1), now)
        except Exception:
            return  # closed at the end of the run, or by the server


async def open_viewer(base: str, public_id: str) -> Viewer:
    ws_url = "ws" + base.removeprefix("http") + f"/ws/scenarios/{public_id}/"
    connection = await connect(
        ws_url, origin=base, open_timeout=30, max_size=None, ping_interval=None, compression=None
    )
    snapshot = json.loads(await connection.recv())
    if snapshot.get("type") != "snapshot":
        raise RuntimeError(f"expected a snapshot first, got {snapshot.get('type')!r}")
    return Viewer(connection)


async def writer(
    client: httpx.AsyncClient,
    public_id: str,
    token: str,
    names: list[str],
    sent: dict[str, float],
    run: Run,
    interval: float = 0.0,
) -> None:
    """POST the pods one after another (at most one per ``interval`` seconds when paced); ``sent`` gets
    the start time of each acknowledged one."""
    headers = {"Authorization": f"Bearer {token}"}
    origin = time.perf_counter()
    for index, name in enumerate(names):
        if interval:
            await asyncio.sleep(max(0.0, origin + index * interval - time.perf_counter()))
        started = time.perf_counter()
        try:
            response = await client.post(
                f"/api/v1/scenarios/{public_id}/pods", json=pod(name), headers=headers
            )
        except httpx.HTTPError:
            run.errors += 1
            continue
        if response.status_code != 201:
            run.errors += 1
            continue
        # Only acknowledged pods are expected at the viewers: a request cut by the deadline may or may
        # not have been committed.
        sent[name] = started
        run.admissions += 1
        if not response.json()["outcomes"][0]["admitted"]:
            run.rejected += 1


async def one_run(
    urls: list[str], viewers: int, writers: int, admissions: int, deadline: float, tag: str, rate: float = 0.0
) -> Run:
    """One run; ``rate`` > 0 paces the writers to that many admissions per second in total."""
    interval = writers / rate if rate else 0.0
    run = Run()
    async with httpx.AsyncClient(base_url=urls[0], timeout=60) as setup:
        created = (await setup.post("/api/v1/scenarios", json=SCENARIO)).raise_for_status().json()
    public_id, token = created["id"], created["edit_token"]
    watching = await asyncio.gather(*(open_viewer(urls[i % len(urls)], public_id) for i in range(viewers)))
    stop = asyncio.Event()
    listeners = [asyncio.create_task(viewer.listen(stop)) for viewer in watching]

    names = [f"{tag}-{index}" for index in range(admissions)]
    shares = [names[index::writers] for index in range(writers)]
    sent: dict[str, float] = {}
    clients = [httpx.AsyncClient(base_url=urls[index % len(urls)], timeout=60) for index in range(writers)]
    started = time.perf_counter()
    try:
        work = asyncio.gather(
            *(
                writer(client, public_id, token, share, sent, run, interval)
                for client, share in zip(clients, shares, strict=True)
            )
        )
        await asyncio.wait_for(work, timeout=deadline)
    except TimeoutError:
        print(f"load.py: run {tag} hit the {deadline:.0f} s deadline", file=sys.stderr)
    run.elapsed = time.perf_counter() - started
    for client in clients:
        await client.aclose()

    # Let the last events reach every viewer (bounded), then stop listening.
    expected = set(sent)
    settle_until = time.perf_counter() + min(30.0, deadline)
    while time.perf_counter() < settle_until and any(
        expected - viewer.arrivals.keys() for viewer in watching
    ):
        await asyncio.sleep(0.05)
    stop.set()
    for viewer in watching:
        await viewer.connection.close()
    await asyncio.gather(*listeners, return_exceptions=True)

    run.expected_deliveries = len(expected) * len(watching)
    for viewer in watching:
        for name in expected:
            arrived = viewer.arrivals.get(name)
            if arrived is None:
                run.missed += 1
            else:
                run.latencies.append(arrived - sent[name])
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", help="a running server (repeat for several processes)")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--admissions", type=int, default=500, help="admissions per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=120.0, help="seconds allowed per run")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="pace the writers to this many admissions/s (default: flat out)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    urls = [loopback_url(url) for url in (args.url or ["http://127.0.0.1:8000"])]
    if not (0 <= args.viewers <= MAX_VIEWERS and 1 <= args.writers <= MAX_WRITERS):
        parser.error(f"--viewers 0..{MAX_VIEWERS}, --writers 1..{MAX_WRITERS}")
    if not (
        1 <= args.admissions <= MAX_ADMISSIONS and 1 <= args.runs <= 20 and 0 < args.deadline <= MAX_DEADLINE
    ):
        parser.error(f"--admissions 1..{MAX_ADMISSIONS}, --runs 1..20, --deadline up to {MAX_DEADLINE:.0f}")

    for url in urls:
        wait_ready(url)
    runs = []
    for index in range(args.runs):
        run = asyncio.run(
            one_run(urls, args.viewers, args.writers, args.admissions, args.deadline, f"r{index}", args.rate)
        )
        runs.append(run.summary())
        if not args.json:
            print(f"run {index + 1}: {json.dumps(runs[-1])}", flush=True)

    def median(key: str) -> float:
        return round(statistics.median(run[key] for run in runs), 1)

    result = {
        "servers": urls,
        "viewers": args.viewers,
        "writers": args.writers,
        "admissions_per_run": args.admissions,
        "paced_rate": args.rate or None,
        "median_admissions_per_s": median("admissions_per_s"),
        "median_latency_p50_ms": median("latency_p50_ms"),
        "median_latency_p99_ms": median("latency_p99_ms"),
        "missed_deliveries": sum(run["missed_deliveries"] for run in runs),
        "errors": sum(run["errors"] for run in runs),
        "load_average": [round(value, 2) for value in os.getloadavg()],
        "runs": runs,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"median over {len(runs)} runs: {result['median_admissions_per_s']} admissions/s, "
            f"submit-to-viewer p50 {result['median_latency_p50_ms']} ms, "
            f"p99 {result['median_latency_p99_ms']} ms "
            f"({args.viewers} viewers, {args.writers} writers, {len(urls)} server(s)); "
            f"missed deliveries {result['missed_deliveries']}, errors {result['errors']}, "
            f"load average {result['load_average']}"
        )
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
