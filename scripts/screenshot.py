"""Take the README's screenshot of the scenario page: ``python scripts/screenshot.py [OUT.png]``.

Starts a throw-away playground (SQLite in a temporary directory, Daphne on a free loopback port),
builds a showcase scenario through the REST API, opens it in headless Chromium holding the edit
token, selects the pod that spans two NUMA nodes, and saves ``docs/screenshot.png``. Nothing of the
user's own data directory is touched. Needs Debian's ``chromium`` at /usr/bin/chromium.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "screenshot.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 1440}


def guaranteed_pod(
    name: str, containers: dict[str, dict[str, str]], init: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """A Guaranteed pod (requests == limits)."""

    def container(container_name: str, resources: dict[str, str]) -> dict[str, Any]:
        full = {"cpu": "2", **resources}
        return {
            "name": container_name,
            "image": "registry.k8s.io/pause:3.10",
            "resources": {"requests": full, "limits": full},
        }

    spec: dict[str, Any] = {"containers": [container(n, r) for n, r in containers.items()]}
    if init:
        spec["initContainers"] = [container(n, r) for n, r in init.items()]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


def showcase_document() -> dict[str, Any]:
    """Four NUMA nodes with 1Gi hugepages, real distances, and pods that show every kind of block."""
    distances = [[10, 12, 32, 32], [12, 10, 32, 32], [32, 32, 10, 12], [32, 32, 12, 10]]
    nodes = [{"id": i, "memory": "32Gi", "hugepages-1Gi": "8Gi"} for i in range(4)]
    return {
        "name": "4-NUMA database node",
        "machine": {"numa_nodes": nodes, "distances": distances},
        "kubelet": {
            "memory_manager_policy": "Static",
            "topology_manager_policy": "restricted",
            "topology_manager_scope": "container",
            "topology_manager_policy_options": {"prefer-closest-numa-nodes": "true"},
            "reserved_memory": [{"numa_node": i, "limits": {"memory": "1Gi"}} for i in range(4)],
        },
        "steps": [
            {
                "op": "admit",
                "pod": guaranteed_pod("postgres", {"db": {"memory": "12Gi", "hugepages-1Gi": "6Gi"}}),
            },
            {"op": "admit", "pod": guaranteed_pod("redis", {"cache": {"memory": "6Gi"}})},
            {
                "op": "admit",
                "pod": guaranteed_pod(
                    "web",
                    {"app": {"memory": "4Gi"}, "proxy": {"memory": "1Gi"}},
                    init={"migrate": {"memory": "3Gi"}},
                ),
            },
            {"op": "admit", "pod": guaranteed_pod("analytics", {"spark": {"memory": "36Gi"}})},
            {"op": "admit", "pod": guaranteed_pod("batch", {"job": {"memory": "30Gi"}})},
        ],
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def call(base: str, method: str, path: str, body: Any = None, token: str | None = None) -> dict[str, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data=data, method=method)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def wait_until_up(base: str, server: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the playground server exited while starting")
        try:
            call(base, "GET", "/api/v1/health")
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"the playground did not answer on {base} within {timeout:.0f}s")


def start_server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PLAYGROUND_DATA_DIR": str(data_dir), "DEBUG": "false"}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=REPO, env=env, check=True
    )
    return subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "playground.asgi:application"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def capture(base: str, scenario_id: str, token: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=base, viewport=VIEWPORT, device_scale_factor=1)
        context.add_init_script(
            f"localStorage.setItem({json.dumps('mmp:edit-token:' + scenario_id)}, {json.dumps(token)});"
        )
        page = context.new_page()
        page.goto(f"/s/{scenario_id}/")
        page.wait_for_selector("body[data-ready='true'][data-ws='open']")
        # Explain the pod that needed two NUMA nodes: hints, merged hint and its multi-NUMA group.
        page.click(".pod[data-pod-name='analytics'] .pod-name")
        page.wait_for_selector("#explainer .evaluation")
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(300)
        out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out))
        browser.close()


def main(argv: list[str]) -> int:
    out = Path(argv[0]).resolve() if argv else DEFAULT_OUT
    with tempfile.TemporaryDirectory(prefix="mmp-screenshot-") as tmp:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = start_server(Path(tmp), port)
        try:
            wait_until_up(base, server)
            created = call(base, "POST", "/api/v1/scenarios", showcase_document())
            capture(base, created["id"], created["edit_token"], out)
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
