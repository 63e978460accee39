"""The load tool's own parts (bench/load.py, bench/lean_http.py, bench/lean_ws.py).

The load tool reads websocket frames and API answers with regular expressions instead of decoding
them, to stay cheap next to the server it measures; these tests hold those readings to what a JSON
decode of the same bytes says, on synthetic frames (batches, snapshots, awkward names) and on the
frames and answers a real Daphne server sends. The lean clients are driven against that server too.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from playground import wire

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))  # the bench scripts import each other as top-level modules

import lean_http  # noqa: E402
import lean_ws  # noqa: E402
import load  # noqa: E402

DAPHNE = Path(sys.executable).with_name("daphne")


def message(version: int, name: str | None, separators: tuple[str, str] = (",", ":"), **extra: Any) -> str:
    """An event message shaped as CONTRACTS section 4 (keys in the server's order)."""
    event = {"version": version, "op": "admit" if name else "restart", "pod_name": name, **extra}
    body = {"type": "event", "version": version, "event": event, "delta": {"state": {}}}
    return json.dumps(body, separators=separators)


def decoded(frame: str | bytes) -> list[tuple[str, int, str | None]]:
    """What parse_frame must find, by decoding the whole frame."""
    document = json.loads(frame)
    messages = document["messages"] if document.get("type") == "batch" else [document]
    found: list[tuple[str, int, str | None]] = []
    for item in messages:
        if item.get("type") == "event":
            found.append(("event", item["version"], item["event"]["pod_name"]))
        elif item.get("type") == "snapshot":
            found.append(("snapshot", item["version"], None))
    return found


SNAPSHOT = json.dumps({"type": "snapshot", "version": 4, "scenario": {"pods": [{"name": "p1"}]}})


@pytest.mark.parametrize(
    "frame",
    [
        pytest.param(message(3, "p3"), id="one event"),
        pytest.param(message(3, "p3", separators=(", ", ": ")), id="one event, spaced JSON"),
        pytest.param(message(5, None), id="a step without a pod"),
        pytest.param(SNAPSHOT, id="snapshot"),
        pytest.param(wire.batch_text([message(v, f"p{v}") for v in range(7, 12)]), id="batch of five"),
        pytest.param(wire.batch_text([message(2, "only")]), id="batch of one"),
        pytest.param(
            wire.batch_text([message(2, "a"), SNAPSHOT, message(5, "b")]), id="batch with a snapshot"
        ),
        pytest.param(message(6, 'we"ird\\name'), id="escaped characters in the name"),
        pytest.param(message(6, "nötig-ü"), id="non-ASCII name"),
        pytest.param(
            message(8, "real", summary='"pod_name":"decoy"', explanation={"pod_name": "nested"}),
            id="pod_name also inside the explanation",
        ),
        pytest.param(
            json.dumps(
                {"type": "event", "version": 9, "event": {"op": "admit", "version": 9, "pod_name": "x"}}
            ),
            id="scalar members in another order",
        ),
        pytest.param('{"type":"error","detail":"read-only"}', id="not an event"),
        pytest.param('{"type":"batch","messages":[]}', id="empty batch"),
    ],
)
def test_parse_frame_reads_what_decoding_the_frame_reads(frame: str) -> None:
    assert load.parse_frame(frame) == decoded(frame)
    assert load.parse_frame(frame.encode("utf-8")) == decoded(frame)


def test_parse_frame_does_not_scan_a_snapshots_view() -> None:
    """A view can hold submitted pods whose JSON the frame parser must not mistake for events."""
    view = {"pods": [{"pod": {"note": json.loads(message(99, "inside"))}}]}
    frame = json.dumps({"type": "snapshot", "version": 12, "scenario": view})
    assert load.parse_frame(frame) == [("snapshot", 12, None)]


def viewer_at(version: int) -> load.Viewer:
    viewer = load.Viewer()
    assert viewer.record(json.dumps({"type": "snapshot", "version": version, "scenario": {}}), 0.0) is None
    return viewer


def test_a_viewer_records_events_in_order_and_ignores_duplicates() -> None:
    viewer = viewer_at(0)
    assert viewer.record(message(1, "a").encode(), 1.0) is None
    assert viewer.record(wire.batch_text([message(2, "b"), message(3, "c")]).encode(), 2.0) is None
    assert viewer.record(message(2, "b").encode(), 9.0) is None  # a repeat changes nothing
    assert viewer.arrivals == {"a": 1.0, "b": 2.0, "c": 2.0}
    assert (viewer.version, viewer.snapshots, viewer.resyncs, viewer.frames) == (3, [], 0, 4)
    assert viewer.settled(3) and not viewer.settled(4)


def test_a_gap_asks_once_for_a_resync_and_the_snapshot_covers_the_missing_pods() -> None:
    viewer = viewer_at(0)
    viewer.record(message(1, "a").encode(), 1.0)
    assert viewer.record(message(3, "c").encode(), 3.0) == 1  # version 2 never came
    assert viewer.record(message(4, "d").encode(), 4.0) is None  # already asked
    assert not viewer.settled(4)
    viewer.record(json.dumps({"type": "snapshot", "version": 4, "scenario": {}}), 5.0)
    assert viewer.settled(4) and viewer.resyncs == 1

    run = load.Run()
    acked = load.Acknowledged(
        sent={"a": 0.5, "b": 1.5, "c": 2.5, "d": 3.5, "e": 4.5},
        versions={"a": 1, "b": 2, "c": 3, "d": 4, "e": 5},
    )
    load.tally(run, [viewer], acked)
    assert (run.covered_by_snapshot, run.missed, run.snapshots_after_start) == (
        1,
        1,
        1,
    )  # b covered, e missed
    assert sorted(run.latencies) == pytest.approx([0.5, 0.5, 0.5, 3.5])  # b: snapshot at 5.0 - sent 1.5


def test_the_single_event_fast_path_records_what_the_general_path_records() -> None:
    """Bytes take the one-match path for the next version; str frames always take parse_frame."""
    rng = random.Random(6)
    frames: list[str] = [json.dumps({"type": "snapshot", "version": 0, "scenario": {}})]
    version = 0
    for _ in range(400):
        roll = rng.random()
        if roll < 0.6:
            version += 1
            frames.append(message(version, f"p{version}" if rng.random() < 0.9 else None))
        elif roll < 0.75:
            frames.append(wire.batch_text([message(version + i, f"p{version + i}") for i in (1, 2, 3)]))
            version += 3
        elif roll < 0.85:
            version += 2  # a gap
            frames.append(message(version, f"p{version}"))
        elif roll < 0.95:
            frames.append(message(max(1, version - 1), "again"))  # a duplicate
        else:
            frames.append(json.dumps({"type": "snapshot", "version": version, "scenario": {}}))
    fast, general = load.Viewer(), load.Viewer()
    for index, frame in enumerate(frames):
        assert fast.record(frame.encode(), float(index)) == general.record(frame, float(index))
    assert vars(fast) == vars(general)
    assert fast.resyncs > 0 and len(fast.snapshots) > 0 and len(fast.arrivals) > 200


@pytest.mark.parametrize(
    ("body", "count", "expected"),
    [
        ('{"version":7,"outcomes":[{"admitted":true,"reason":""}]}', 1, (7, [True])),
        (
            '{"version":9,"outcomes":[{"admitted":true,"x":{"y":[1]}},{"admitted":false,"reason":"r"}]}',
            2,
            (9, [True, False]),
        ),
        ('{"version": 9, "outcomes": [{"admitted": false}]}', 1, (9, [False])),
        ('{"outcomes":[{"reason":"","admitted":true}],"version":3}', 1, (3, [True])),  # decoded instead
        ('{"version":9,"outcomes":[{"admitted":true}]}', 2, None),  # fewer outcomes than pods
        ('{"version":9,"outcomes":[{"panic":"boom"}]}', 1, None),
        ("<html>oops</html>", 1, None),
    ],
)
def test_read_answer(body: str, count: int, expected: tuple[int, list[bool]] | None) -> None:
    assert load.read_answer(body.encode(), count) == expected


def test_take_answer_counts_only_acknowledged_pods_with_consecutive_versions() -> None:
    run, acked = load.Run(), load.Acknowledged()
    body = b'{"version":12,"outcomes":[{"admitted":true},{"admitted":false},{"admitted":true}]}'
    load.take_answer(201, body, ["a", "b", "c"], 1.0, acked, run)
    load.take_answer(409, b'{"detail":"name in use"}', ["d"], 2.0, acked, run)
    load.take_answer(201, b'{"version":13,"outcomes":[]}', ["e"], 3.0, acked, run)
    assert acked.versions == {"a": 10, "b": 11, "c": 12}
    assert (run.admissions, run.rejected, run.errors) == (3, 1, 2)


def test_frame_reader_joins_fragments_and_splits_coalesced_frames() -> None:
    reader = lean_ws.FrameReader()
    big = b"x" * 70_000  # a 64-bit length
    stream = (
        bytes((0x01, 3))
        + b"abc"  # first fragment, not final
        + bytes((0x89, 2))
        + b"hi"  # a ping between fragments
        + bytes((0x80, 3))
        + b"def"  # final continuation
        + bytes((0x81, 127))
        + len(big).to_bytes(8, "big")
        + big
        + bytes((0x81, 126))
        + (300).to_bytes(2, "big")
        + b"y" * 300
    )
    messages: list[tuple[int, bytes]] = []
    for start in range(0, len(stream), 7):  # any split of the bytes gives the same messages
        messages += reader.feed(stream[start : start + 7])
    assert messages == [
        (lean_ws.PING, b"hi"),
        (lean_ws.TEXT, b"abcdef"),
        (lean_ws.TEXT, big),
        (lean_ws.TEXT, b"y" * 300),
    ]
    assert reader.buffer == bytearray()


def test_client_frames_are_masked_and_read_back() -> None:
    for size in (0, 5, 125, 126, 65_535, 65_536):
        payload = os.urandom(size)
        frame = lean_ws.encode_frame(lean_ws.TEXT, payload)
        assert frame[1] & 0x80  # masked, as a client must
        assert lean_ws.FrameReader().feed(frame) == [(lean_ws.TEXT, payload)]


def test_the_accept_key_is_rfc_6455s_example() -> None:
    assert lean_ws.accept_key(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


async def test_read_response_reads_chunked_and_length_bodies() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n"
        b"HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    first = await lean_http.read_response(reader)
    second = await lean_http.read_response(reader)
    assert (first.status, first.body) == (200, b"Wikipedia")
    assert (second.status, second.body, second.headers["connection"]) == (201, b"{}", "close")


# --- against a real server ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Daphne process on its own SQLite file (the embedded default), for this module's tests."""
    env = {
        **os.environ,
        "PLAYGROUND_DATA_DIR": str(tmp_path_factory.mktemp("bench-server")),
        "DJANGO_SETTINGS_MODULE": "playground.settings",
        "PLAYGROUND_LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "DEBUG"):
        env.pop(name, None)
    migrate = [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"]
    subprocess.run(migrate, cwd=REPO, env=env, check=True, timeout=120)
    port = free_port()
    command = [str(DAPHNE), "-b", "127.0.0.1", "-p", str(port), "playground.asgi:application"]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        load.wait_ready(url, timeout=60)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.slow
async def test_lean_http_keeps_one_connection_and_reads_real_answers(server_url: str) -> None:
    async with lean_http.LeanHTTPConnection(server_url) as connection:
        health = await connection.get("/api/v1/health")
        writer = connection._writer
        created = await connection.post_json("/api/v1/scenarios", load.SCENARIO)
        assert connection._writer is writer is not None  # kept alive
        refused = await connection.post_json(f"/api/v1/scenarios/{created.json()['id']}/pods", load.pod("x"))
    assert health.status == 200 and health.json()["status"] == "ok"
    assert created.status == 201 and created.json()["version"] == 0
    assert refused.status == 401 and "detail" in refused.json()
    with pytest.raises(lean_http.LeanHTTPError):
        await lean_http.LeanHTTPConnection(f"http://127.0.0.1:{free_port()}", timeout=5).get("/")


@pytest.mark.slow
async def test_real_frames_and_answers_read_as_their_json_says(server_url: str) -> None:
    public_id, token = await load.create_scenario(server_url)
    frames: list[bytes] = []
    ages: list[float] = []  # how long before the callback the kernel had the bytes

    def on_message(payload: bytes, now: float) -> None:
        frames.append(payload)
        ages.append(time.perf_counter() - now)

    ws_url = "ws" + server_url.removeprefix("http") + f"/ws/scenarios/{public_id}/"
    viewer = await lean_ws.connect(ws_url, server_url, on_message)
    assert viewer.stamped == sys.platform.startswith("linux")
    headers = {"Authorization": f"Bearer {token}"}
    async with lean_http.LeanHTTPConnection(server_url, headers) as connection:
        path = f"/api/v1/scenarios/{public_id}/pods"
        single = await connection.post_json(path, load.pod("one"))
        batch = await connection.post_json(path + "?light=true", [load.pod(f"b{i}") for i in range(3)])
        # A pod too big for any NUMA node: rejected, still acknowledged with its outcome.
        huge = load.pod("huge")
        for container in huge["spec"]["containers"]:
            container["resources"] = {
                "requests": {"cpu": "1", "memory": "2000Gi"},
                "limits": {"cpu": "1", "memory": "2000Gi"},
            }
        rejected = await connection.post_json(path, huge)
        for answer, count in ((single, 1), (batch, 3), (rejected, 1)):
            assert answer.status == 201
            expected = answer.json()
            assert load.read_answer(answer.body, count) == (
                expected["version"],
                [outcome["admitted"] for outcome in expected["outcomes"]],
            )
        assert load.read_answer(rejected.body, 1) == (5, [False])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sum(len(load.parse_frame(f)) for f in frames) < 6:
            await asyncio.sleep(0.05)
    await viewer.close()
    assert viewer.closed.done() and viewer.sock.fileno() == -1
    assert all(0 <= age < 10 for age in ages)  # kernel stamps on the writers' clock, never ahead of it
    found = [item for frame in frames for item in load.parse_frame(frame)]
    assert found == [item for frame in frames for item in decoded(frame)]
    assert found == [
        ("snapshot", 0, None),
        ("event", 1, "one"),
        ("event", 2, "b0"),
        ("event", 3, "b1"),
        ("event", 4, "b2"),
        ("event", 5, "huge"),
    ]


@pytest.mark.slow
async def test_lean_ws_refused_upgrade_is_an_error(server_url: str) -> None:
    public_id, _ = await load.create_scenario(server_url)
    ws_url = "ws" + server_url.removeprefix("http") + f"/ws/scenarios/{public_id}/"
    with pytest.raises(lean_ws.WebSocketError):
        await lean_ws.connect(ws_url, "http://evil.example", lambda payload, now: None, timeout=10)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("ws_client", "processes", "clock"),
    [("lean", 0, "kernel"), ("websockets", 0, "read"), ("lean", 2, "kernel")],
)
def test_a_small_load_run_delivers_every_acknowledged_pod_to_every_viewer(
    server_url: str, ws_client: str, processes: int, clock: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--url", server_url, "--viewers", "3", "--writers", "2", "--admissions", "21", "--batch", "4"]
    argv += ["--runs", "1", "--json", "--ws-client", ws_client, "--viewer-processes", str(processes)]
    assert load.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    (run,) = result["runs"]
    assert (run["admissions"], run["errors"], run["rejected"]) == (21, 0, 0)
    assert run["requests"] == 6  # 11 and 10 pods per writer, 4 per request
    assert run["deliveries"] == 63 and run["missed_deliveries"] == 0
    assert run["latency_p50_ms"] > 0 and run["request_p99_ms"] >= run["request_p50_ms"] > 0
    assert run["client_cpu_s"] > 0
    assert run["arrival_clock"] == (clock if sys.platform.startswith("linux") else "read")
    assert run["frames"] >= 3 and run["snapshots_after_start"] == run["covered_by_snapshot"] == 0


def test_load_refuses_non_loopback_servers_and_oversized_batches() -> None:
    with pytest.raises(SystemExit):
        load.main(["--url", "http://192.0.2.1:8000", "--runs", "1"])
    with pytest.raises(SystemExit):
        load.main(["--url", "http://127.0.0.1:1", "--batch", "101"])
