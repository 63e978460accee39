"""Load: N websocket viewers and M writers against running playground servers, on loopback only.

Each run creates a fresh scenario through the first server, connects ``--viewers`` websocket viewers
spread round-robin over the servers (several ``--url``: several processes behind no proxy), then
``--writers`` concurrent writers, also spread over the servers, POST ``--admissions`` Guaranteed pods
in total, ``--batch`` pods per request (one by default; more go as a JSON list, at most the server's
PLAYGROUND_MAX_PODS_PER_REQUEST, 100 by default). It reports:

- admissions/s: admission decisions acknowledged (201) per wall-clock second, first request sent to
  last answer received; and the writers' request latency (p50, p99);
- submit-to-viewer latency: for every (pod, viewer) pair, the time from the writer starting the request
  that carried the pod to the viewer receiving the websocket frame with its event (one clock: one
  process), as p50 and p99. A viewer that sees a version gap asks for a resync, as the page does; a pod
  it then holds only through a later snapshot (one whose version covers the pod's) counts as
  ``covered_by_snapshot``, with the snapshot's arrival as its delivery time. ``missed_deliveries`` are
  pods a viewer never got, by event or snapshot, within the deadline; ``snapshots_after_start`` counts
  the snapshots the viewers received after their first one;
- the client's own CPU seconds over the measured part of the run (``time.process_time``), so a reader
  can tell whether the load tool, which shares the machine's cores with the servers, weighed on it.

The client is kept cheap so it does not dominate what it measures (bench/README.md has the figures):
the writers use a lean HTTP/1.1 keep-alive client (``lean_http.py``, about a fifth of httpx's CPU per
request), their request bodies are encoded before the clock starts and their answers are checked
without decoding the whole checkpoint-carrying JSON; the viewers use a lean websocket client
(``lean_ws.py``) that reads each frame as bytes and picks the versions and pod names out of it with
an anchored regular expression (a frame is one message or a ``{"type": "batch", "messages": [...]}``
of them), and takes arrival times from the kernel's receive stamps, so the client's own delays do
not count as the server's.

Runs are repeated (``--runs``) and the median of each figure reported with every run's value, because
the machine is shared. Everything is bounded: at most MAX_VIEWERS viewers, MAX_WRITERS writers,
MAX_ADMISSIONS admissions per run and ``--deadline`` seconds per run; only loopback addresses are
accepted, so the tool cannot be pointed at somebody else's server.

    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --viewers 100 --writers 4 --admissions 500
    .venv/bin/python bench/load.py --url http://127.0.0.1:8000 --viewers 100 --writers 4 --batch 25
    .venv/bin/python bench/load.py --url http://127.0.0.1:8001 --url http://127.0.0.1:8002 ...

Start the servers first: ``scripts/run.sh`` (embedded default), or ``bench/cluster.sh start DIR`` for
two processes on PostgreSQL + Redis (the README's "Running several server processes").
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import multiprocessing
import os
import re
import statistics
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

# bench/ is on sys.path when run as a script: the lean clients, and api_bench for the same Guaranteed
# 64Mi pod the API benchmark submits.
import lean_ws
import orjson
from api_bench import pod
from lean_http import LeanHTTPConnection, LeanHTTPError
from websockets.asyncio.client import ClientConnection, connect

MAX_VIEWERS = 1000
MAX_WRITERS = 64
MAX_ADMISSIONS = 20_000
MAX_DEADLINE = 600.0
MAX_BATCH = 100  # the server's default PLAYGROUND_MAX_PODS_PER_REQUEST

SCENARIO = {
    "name": "load bench",
    "machine": {"numa_nodes": [{"id": node, "memory": "1024Gi"} for node in range(4)]},
    "kubelet": {
        "topology_manager_policy": "single-numa-node",
        "reserved_memory": [{"numa_node": 0, "limits": {"memory": "1Gi"}}],
    },
}

# --- frames -------------------------------------------------------------------------------------
#
# A websocket message starts {"type": "event"|"snapshot", "version": N, ...}; an event message goes on
# with "event": {"version": N, "op": "...", "pod_name": "..." | null, ...}. A batch frame is
# {"type": "batch", "messages": [<message>, ...]}. Inside a JSON document an unescaped quote only
# appears as structure, so '{"type":"event","version":' is never part of a string (a pod name, an
# explanation): only a message's start, or an object of that shape inside a submitted pod's own JSON,
# which the load tool's pods do not hold. "pod_name" is looked for only among the event's leading
# scalar members (whatever their order), never in its nested objects (outcome, pod, explanation).
_STRING = rb'"(?:[^"\\]|\\.)*"'
_SCALAR = rb"(?:-?\d+|null|true|false|" + _STRING + rb")"
MESSAGE_HEAD = re.compile(rb'\{\s*"type"\s*:\s*"(event|snapshot)"\s*,\s*"version"\s*:\s*(\d+)')
EVENT_POD_NAME = re.compile(
    rb'\s*,\s*"event"\s*:\s*\{(?:\s*"\w+"\s*:\s*' + _SCALAR + rb"\s*,)*?\s*"
    rb'"pod_name"\s*:\s*(null|' + _STRING + rb")"
)
BATCH_HEAD = re.compile(rb'\{\s*"type"\s*:\s*"batch"')
# The common frame, one event message as the server writes it (compact JSON, the event's members in
# the order of CONTRACTS section 4), read by one mostly literal match; anything else (spaced JSON,
# another order, a batch, a snapshot) goes through parse_frame.
SINGLE_EVENT = re.compile(
    rb'\{"type":"event","version":(\d+),"event":\{"version":\d+,"op":"\w+","pod_name":(null|'
    + _STRING
    + rb")"
)


def pod_name_of(raw: bytes) -> str | None:
    """The pod name from its JSON token (a string, or null for a step without a pod)."""
    if raw == b"null":
        return None
    if b"\\" in raw:
        return str(json.loads(raw))
    return raw[1:-1].decode("utf-8")


def parse_frame(data: bytes | str) -> list[tuple[str, int, str | None]]:
    """The messages of one websocket frame, in order: ``("event", version, pod name or None)`` or
    ``("snapshot", version, None)``; ``[]`` for anything else. Only the heads are read: a frame of a
    hundred events costs one regular-expression scan, not a JSON decode."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if (head := MESSAGE_HEAD.match(data)) is not None:
        heads = [head]  # one message: a snapshot's scenario view is not scanned
    elif BATCH_HEAD.match(data):
        heads = list(MESSAGE_HEAD.finditer(data))
    else:
        return []
    found: list[tuple[str, int, str | None]] = []
    for head in heads:
        kind, version = head.group(1).decode("ascii"), int(head.group(2))
        if kind == "snapshot":
            found.append(("snapshot", version, None))
        elif (event := EVENT_POD_NAME.match(data, head.end())) is not None:
            found.append(("event", version, pod_name_of(event.group(1))))
    return found


# --- figures ------------------------------------------------------------------------------------


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
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"load.py: {url} does not answer /api/v1/health")
        time.sleep(0.2)


def ms(seconds: float) -> float:
    return round(seconds * 1000, 1)


@dataclass
class Run:
    batch: int = 1
    admissions: int = 0
    rejected: int = 0
    errors: int = 0
    requests: int = 0
    elapsed: float = 0.0
    client_cpu: float = 0.0
    request_latencies: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    expected_deliveries: int = 0
    missed: int = 0
    covered_by_snapshot: int = 0
    snapshots_after_start: int = 0
    resyncs: int = 0
    frames: int = 0
    arrival_clock: str = "read"  # "kernel": the viewers' arrival times are the kernel's receive stamps

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
            "latency_p50_ms": ms(percentile(self.latencies, 0.50)),
            "latency_p99_ms": ms(percentile(self.latencies, 0.99)),
            "deliveries": len(self.latencies),
            "missed_deliveries": self.missed,
            "covered_by_snapshot": self.covered_by_snapshot,
            "snapshots_after_start": self.snapshots_after_start,
            "resyncs_sent": self.resyncs,
            "frames": self.frames,
            "arrival_clock": self.arrival_clock,
            "pods_per_request": self.batch,
            "requests": self.requests,
            "request_p50_ms": ms(percentile(self.request_latencies, 0.50)),
            "request_p99_ms": ms(percentile(self.request_latencies, 0.99)),
            "client_cpu_s": round(self.client_cpu, 3),
            "client_cpu_ms_per_admission": round(1000 * self.client_cpu / self.admissions, 3)
            if self.admissions
            else None,
        }


# --- viewers ------------------------------------------------------------------------------------


class Viewer:
    """One websocket viewer: when each pod's event arrived, and the snapshots that came after the first.

    It follows the versions as the page does: the first message is the snapshot it starts from; an
    event past the next version is a gap, answered by asking for a resync (once until a snapshot
    comes); an event at or below the version held is a duplicate and ignored."""

    def __init__(self) -> None:
        self.ready = False  # the first snapshot has arrived
        self.version = 0
        self.arrivals: dict[str, float] = {}
        self.snapshots: list[tuple[int, float]] = []  # (version, arrival) of every later snapshot
        self.resync_pending = False
        self.resyncs = 0
        self.frames = 0

    def record(self, data: bytes | str, now: float) -> int | None:
        """Take in one frame received at ``now``; returns the version to resync from on a gap."""
        self.frames += 1
        if (
            self.ready
            and not isinstance(data, str)
            and (single := SINGLE_EVENT.match(data)) is not None
            and int(single.group(1)) == self.version + 1
        ):
            # The usual frame: the next version, alone (what the general path below does for it).
            self.version += 1
            if (name := pod_name_of(single.group(2))) is not None:
                self.arrivals.setdefault(name, now)
            return None
        resync_from: int | None = None
        for kind, version, name in parse_frame(data):
            if kind == "snapshot":
                if self.ready:
                    self.snapshots.append((version, now))
                self.ready = True
                self.version = max(self.version, version)
                self.resync_pending = False
                continue
            if version <= self.version:
                continue
            if version > self.version + 1 and not self.resync_pending:
                resync_from = self.version
                self.resync_pending = True
                self.resyncs += 1
            self.version = version
            if name is not None:
                self.arrivals.setdefault(name, now)
        return resync_from

    def covering_snapshot(self, version: int) -> float | None:
        """Arrival of the first later snapshot that holds ``version``, if any."""
        for held, arrived in self.snapshots:
            if held >= version:
                return arrived
        return None

    def settled(self, last_version: int) -> bool:
        return self.version >= last_version and not self.resync_pending


def resync_message(version: int) -> str:
    return json.dumps({"type": "resync", "version": version})


class WebsocketsViewer(Viewer):
    """A viewer on the ``websockets`` client: a task per socket awaits each frame (``--ws-client
    websockets``, for comparison with the lean one)."""

    def __init__(self, connection: ClientConnection) -> None:
        super().__init__()
        self.connection = connection
        self.task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, url: str, origin: str) -> WebsocketsViewer:
        connection = await connect(
            url, origin=origin, open_timeout=30, max_size=None, ping_interval=None, compression=None
        )
        viewer = cls(connection)
        viewer.record(await connection.recv(decode=False), time.perf_counter())
        viewer.task = asyncio.create_task(viewer.listen())
        return viewer

    async def listen(self) -> None:
        try:
            while True:
                # Bytes, not str: no UTF-8 decode of frames the regular expression reads as bytes.
                data = await self.connection.recv(decode=False)
                resync_from = self.record(data, time.perf_counter())
                if resync_from is not None:
                    await self.connection.send(resync_message(resync_from))
        except Exception:
            return  # closed at the end of the run, or by the server

    async def close(self) -> None:
        await self.connection.close()
        if self.task is not None:
            await asyncio.gather(self.task, return_exceptions=True)


class LeanViewer(Viewer):
    """A viewer on ``lean_ws``: frames are taken in as the bytes are read, no task per socket."""

    def __init__(self) -> None:
        super().__init__()
        self.socket: lean_ws.LeanWebSocket | None = None
        self.first: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    @classmethod
    async def open(cls, url: str, origin: str) -> LeanViewer:
        viewer = cls()
        viewer.socket = await lean_ws.connect(url, origin, viewer.on_message, timeout=30)
        async with asyncio.timeout(30):
            await viewer.first
        return viewer

    def on_message(self, payload: bytes, now: float) -> None:
        resync_from = self.record(payload, now)
        if resync_from is not None and self.socket is not None:
            self.socket.send_text(resync_message(resync_from))
        if not self.first.done():
            self.first.set_result(None)

    async def close(self) -> None:
        if self.socket is not None:
            await self.socket.close()


async def open_viewer(base: str, public_id: str, client: str = "lean") -> WebsocketsViewer | LeanViewer:
    ws_url = "ws" + base.removeprefix("http") + f"/ws/scenarios/{public_id}/"
    viewer = await (LeanViewer if client == "lean" else WebsocketsViewer).open(ws_url, base)
    if not viewer.ready:
        raise RuntimeError("load.py: the first websocket message was not a snapshot")
    return viewer


# --- writers ------------------------------------------------------------------------------------


@dataclass
class Acknowledged:
    """What the writers learnt: when each acknowledged pod's request started, and its version."""

    sent: dict[str, float] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)


def batches_of(names: list[str], size: int) -> list[list[str]]:
    return [names[index : index + size] for index in range(0, len(names), size)]


def request_body(names: list[str], batch: int) -> bytes:
    """One pod as an object (what a single submission looks like), several as a JSON list."""
    return orjson.dumps(pod(names[0]) if batch == 1 else [pod(name) for name in names])


# An answer is {"version": N, "outcomes": [{"admitted": true|false, ...}, ...]}: "admitted" is each
# outcome's first key and no nested object of an outcome has one. A full answer carries the checkpoint
# in every outcome, so a batch's answer grows with pods x running pods (megabytes): reading just these
# heads costs about 1/50 of decoding it. Anything else falls back to decoding.
ANSWER_HEAD = re.compile(rb'\{\s*"version"\s*:\s*(\d+)\s*,\s*"outcomes"\s*:\s*\[')
OUTCOME_ADMITTED = re.compile(rb'[\[,]\s*\{\s*"admitted"\s*:\s*(true|false)\s*[,}]')


def read_answer(body: bytes, count: int) -> tuple[int, list[bool]] | None:
    """The version and each outcome's ``admitted`` of a 201 answer to ``count`` pods, or None when the
    answer does not hold exactly ``count`` outcomes."""
    if (head := ANSWER_HEAD.match(body)) is not None:
        admitted = [flag == b"true" for flag in OUTCOME_ADMITTED.findall(body, head.end() - 1)]
        if len(admitted) == count:
            return int(head.group(1)), admitted
    try:
        answer = orjson.loads(body)
        outcomes = answer["outcomes"]
        if len(outcomes) != count:
            return None
        return int(answer["version"]), [bool(outcome["admitted"]) for outcome in outcomes]
    except (orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def take_answer(
    status: int, body: bytes, names: list[str], started: float, acked: Acknowledged, run: Run
) -> None:
    """Check one answer and count its pods: only a 201 whose outcomes match the pods sent counts, one
    version per pod in order (a submission is one write: its pods take consecutive versions)."""
    read = read_answer(body, len(names)) if status == 201 else None
    if read is None:
        run.errors += 1
        return
    last_version, admitted = read
    first_version = last_version - len(names) + 1
    for offset, (name, ok) in enumerate(zip(names, admitted, strict=True)):
        acked.sent[name] = started
        acked.versions[name] = first_version + offset
        run.admissions += 1
        if not ok:
            run.rejected += 1


async def writer(
    connection: LeanHTTPConnection,
    path: str,
    batches: list[list[str]],
    bodies: list[bytes],
    acked: Acknowledged,
    run: Run,
    interval: float = 0.0,
) -> None:
    """POST the batches one after another (at most one per ``interval`` seconds when paced)."""
    origin = time.perf_counter()
    for index, (names, body) in enumerate(zip(batches, bodies, strict=True)):
        if interval:
            await asyncio.sleep(max(0.0, origin + index * interval - time.perf_counter()))
        started = time.perf_counter()
        try:
            response = await connection.request("POST", path, body, "application/json")
        except LeanHTTPError:
            run.errors += 1
            continue
        run.requests += 1
        if response.status == 201:
            run.request_latencies.append(time.perf_counter() - started)
        # Only acknowledged pods are expected at the viewers: a request cut by the deadline may or may
        # not have been committed.
        take_answer(response.status, response.body, names, started, acked, run)


def tally(run: Run, viewers: list[Viewer], acked: Acknowledged) -> None:
    """Every (acknowledged pod, viewer) pair: delivered by event, covered by a later snapshot, or missed."""
    run.expected_deliveries = len(acked.sent) * len(viewers)
    for viewer in viewers:
        run.snapshots_after_start += len(viewer.snapshots)
        run.resyncs += viewer.resyncs
        run.frames += viewer.frames
        for name, started in acked.sent.items():
            arrived = viewer.arrivals.get(name)
            if arrived is None:
                arrived = viewer.covering_snapshot(acked.versions[name])
                if arrived is None:
                    run.missed += 1
                    continue
                run.covered_by_snapshot += 1
            run.latencies.append(arrived - started)


async def create_scenario(url: str) -> tuple[str, str]:
    async with LeanHTTPConnection(url, timeout=60) as setup:
        response = await setup.post_json("/api/v1/scenarios", SCENARIO)
    if response.status != 201:
        raise SystemExit(f"load.py: creating the scenario: {response.status} {response.body[:300]!r}")
    created = response.json()
    return created["id"], created["edit_token"]


async def open_viewers(
    urls: list[str], public_id: str, count: int, first: int, ws_client: str
) -> list[Viewer]:
    """``count`` viewers, the i-th on server ``first + i`` round-robin."""
    return list(
        await asyncio.gather(
            *(open_viewer(urls[(first + i) % len(urls)], public_id, ws_client) for i in range(count))
        )
    )


async def settle(viewers: list[Viewer], last_version: int, seconds: float) -> None:
    """Let the last events reach every viewer (bounded)."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until and not all(viewer.settled(last_version) for viewer in viewers):
        await asyncio.sleep(0.02)


def kernel_stamped(viewers: list[Viewer]) -> bool:
    return bool(viewers) and all(
        isinstance(viewer, LeanViewer) and viewer.socket is not None and viewer.socket.stamped
        for viewer in viewers
    )


# What a viewer process hands back for each of its viewers (plain data: it crosses a pipe).
RECORD_FIELDS = ("ready", "version", "arrivals", "snapshots", "resync_pending", "resyncs", "frames")


def exported(viewer: Viewer) -> dict[str, Any]:
    return {name: getattr(viewer, name) for name in RECORD_FIELDS}


def restored(record: dict[str, Any]) -> Viewer:
    viewer = Viewer()
    for name in RECORD_FIELDS:
        setattr(viewer, name, record[name])
    return viewer


class LocalViewers:
    """The viewers in the load tool's own event loop, with the writers (the default)."""

    def __init__(self, viewers: list[Viewer]) -> None:
        self.viewers = viewers

    def begin(self) -> None:
        pass

    async def finish(self, last_version: int, seconds: float) -> tuple[list[Viewer], float, bool]:
        """Settle and close: the viewers, the CPU to add to this process's own over the run (closing
        is not part of the measurement: it is taken off) and whether arrivals are kernel stamps."""
        await settle(self.viewers, last_version, seconds)
        cpu = time.process_time()
        await asyncio.gather(*(viewer.close() for viewer in self.viewers))
        return self.viewers, cpu - time.process_time(), kernel_stamped(self.viewers)


def viewer_process(
    urls: list[str], public_id: str, first: int, count: int, ws_client: str, pipe: Any
) -> None:
    """A child process's viewers: open, say ready, start the CPU clock on "begin", settle on "finish"."""

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        try:
            viewers = await open_viewers(urls, public_id, count, first, ws_client)
        except Exception as exc:
            pipe.send(("error", f"{type(exc).__name__}: {exc}"))
            return
        pipe.send(("ready", None))
        await loop.run_in_executor(None, pipe.recv)  # begin
        cpu_before = time.process_time()
        _, last_version, seconds = await loop.run_in_executor(None, pipe.recv)  # finish
        await settle(viewers, last_version, seconds)
        cpu = time.process_time() - cpu_before
        await asyncio.gather(*(viewer.close() for viewer in viewers))
        pipe.send(("done", ([exported(viewer) for viewer in viewers], cpu, kernel_stamped(viewers))))

    asyncio.run(serve())


class RemoteViewers:
    """The viewers spread over child processes (``--viewer-processes``): their frames cost the writers'
    event loop nothing, and their CPU is added to the client's."""

    def __init__(self, children: list[tuple[Any, Any]]) -> None:
        self.children = children  # (process, pipe)

    @classmethod
    async def start(
        cls, urls: list[str], public_id: str, viewers: int, processes: int, ws_client: str
    ) -> RemoteViewers:
        context = multiprocessing.get_context("spawn")
        children = []
        first = 0
        for index in range(processes):
            count = viewers // processes + (1 if index < viewers % processes else 0)
            if count == 0:
                continue
            mine, theirs = context.Pipe()
            process = context.Process(
                target=viewer_process, args=(urls, public_id, first, count, ws_client, theirs), daemon=True
            )
            process.start()
            children.append((process, mine))
            first += count
        group = cls(children)
        answers = await group.receive_all()
        if failed := [detail for kind, detail in answers if kind != "ready"]:
            group.stop()
            raise RuntimeError(f"load.py: a viewer process failed: {failed[0]}")
        return group

    async def receive_all(self) -> list[tuple[str, Any]]:
        loop = asyncio.get_running_loop()
        return list(
            await asyncio.gather(*(loop.run_in_executor(None, pipe.recv) for _, pipe in self.children))
        )

    def begin(self) -> None:
        for _, pipe in self.children:
            pipe.send(("begin",))

    async def finish(self, last_version: int, seconds: float) -> tuple[list[Viewer], float, bool]:
        for _, pipe in self.children:
            pipe.send(("finish", last_version, seconds))
        answers = await self.receive_all()
        self.stop()
        viewers: list[Viewer] = []
        cpu, kernel = 0.0, True
        for kind, detail in answers:
            if kind != "done":
                raise RuntimeError(f"load.py: a viewer process failed: {detail}")
            records, child_cpu, child_kernel = detail
            viewers += [restored(record) for record in records]
            cpu += child_cpu
            kernel = kernel and child_kernel
        return viewers, cpu, kernel  # the children's CPU counts towards the client's

    def stop(self) -> None:
        for process, pipe in self.children:
            process.join(timeout=10)
            if process.is_alive():
                process.terminate()
                process.join(timeout=5)
            pipe.close()


async def one_run(
    urls: list[str],
    viewers: int,
    writers: int,
    admissions: int,
    deadline: float,
    tag: str,
    rate: float = 0.0,
    batch: int = 1,
    light: bool = False,
    ws_client: str = "lean",
    viewer_processes: int = 0,
) -> Run:
    """One run; ``rate`` > 0 paces the writers to that many admissions per second in total;
    ``viewer_processes`` > 0 runs the viewers in that many child processes."""
    run = Run(batch=batch)
    public_id, token = await create_scenario(urls[0])
    group: LocalViewers | RemoteViewers
    if viewer_processes and viewers:
        group = await RemoteViewers.start(urls, public_id, viewers, viewer_processes, ws_client)
    else:
        group = LocalViewers(await open_viewers(urls, public_id, viewers, 0, ws_client))

    names = [f"{tag}-{index}" for index in range(admissions)]
    shares = [batches_of(names[index::writers], batch) for index in range(writers)]
    bodies = [[request_body(chunk, batch) for chunk in share] for share in shares]
    path = f"/api/v1/scenarios/{public_id}/pods" + ("?light=true" if light else "")
    headers = {"Authorization": f"Bearer {token}"}
    connections = [
        LeanHTTPConnection(urls[index % len(urls)], headers, timeout=60) for index in range(writers)
    ]
    interval = writers * batch / rate if rate else 0.0
    acked = Acknowledged()

    group.begin()
    cpu_before = time.process_time()
    started = time.perf_counter()
    try:
        work = asyncio.gather(
            *(
                writer(connection, path, share, share_bodies, acked, run, interval)
                for connection, share, share_bodies in zip(connections, shares, bodies, strict=True)
            )
        )
        await asyncio.wait_for(work, timeout=deadline)
    except TimeoutError:
        print(f"load.py: run {tag} hit the {deadline:.0f} s deadline", file=sys.stderr)
    run.elapsed = time.perf_counter() - started
    for connection in connections:
        await connection.close()

    last_version = max(acked.versions.values(), default=0)
    watching, cpu_adjustment, kernel = await group.finish(last_version, min(30.0, deadline))
    run.client_cpu = time.process_time() - cpu_before + cpu_adjustment
    if kernel:
        run.arrival_clock = "kernel"
    tally(run, watching, acked)
    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", help="a running server (repeat for several processes)")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--admissions", type=int, default=500, help="admissions per run")
    parser.add_argument("--batch", type=int, default=1, help=f"pods per request (1..{MAX_BATCH}; default 1)")
    parser.add_argument(
        "--light", action="store_true", help="?light=true: answers without the checkpoint (default: full)"
    )
    parser.add_argument(
        "--ws-client",
        choices=("lean", "websockets"),
        default="lean",
        help="the viewers' websocket client: lean_ws (default) or the websockets library",
    )
    parser.add_argument(
        "--viewer-processes",
        type=int,
        default=0,
        help="run the viewers in this many child processes (default 0: in the writers' event loop)",
    )
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
    if not 1 <= args.batch <= MAX_BATCH:
        parser.error(f"--batch 1..{MAX_BATCH}")
    if not 0 <= args.viewer_processes <= 16:
        parser.error("--viewer-processes 0..16")

    for url in urls:
        wait_ready(url)
    runs = []
    for index in range(args.runs):
        run = asyncio.run(
            one_run(
                urls,
                args.viewers,
                args.writers,
                args.admissions,
                args.deadline,
                f"r{index}",
                args.rate,
                args.batch,
                args.light,
                args.ws_client,
                args.viewer_processes,
            )
        )
        runs.append(run.summary())
        if not args.json:
            print(f"run {index + 1}: {json.dumps(runs[-1])}", flush=True)

    def median(key: str) -> float:
        return round(statistics.median(run[key] for run in runs), 1)

    def total(key: str) -> int:
        return sum(run[key] for run in runs)

    result = {
        "servers": urls,
        "viewers": args.viewers,
        "writers": args.writers,
        "admissions_per_run": args.admissions,
        "pods_per_request": args.batch,
        "light": args.light,
        "ws_client": args.ws_client,
        "viewer_processes": args.viewer_processes,
        "paced_rate": args.rate or None,
        "median_admissions_per_s": median("admissions_per_s"),
        "median_latency_p50_ms": median("latency_p50_ms"),
        "median_latency_p99_ms": median("latency_p99_ms"),
        "median_request_p50_ms": median("request_p50_ms"),
        "median_request_p99_ms": median("request_p99_ms"),
        "median_client_cpu_s": round(statistics.median(run["client_cpu_s"] for run in runs), 3),
        "missed_deliveries": total("missed_deliveries"),
        "covered_by_snapshot": total("covered_by_snapshot"),
        "snapshots_after_start": total("snapshots_after_start"),
        "errors": total("errors"),
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
            f"({args.viewers} viewers, {args.writers} writers, {args.batch} pod(s) per request, "
            f"{len(urls)} server(s)); request p50 {result['median_request_p50_ms']} ms, "
            f"p99 {result['median_request_p99_ms']} ms; client CPU {result['median_client_cpu_s']} s; "
            f"missed deliveries {result['missed_deliveries']}, covered by snapshot "
            f"{result['covered_by_snapshot']}, snapshots after start {result['snapshots_after_start']}, "
            f"errors {result['errors']}, load average {result['load_average']}"
        )
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
