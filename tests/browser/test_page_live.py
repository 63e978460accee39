"""Live updates: a change made through the REST API shows in every open page within a second."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from browser_support import GI, guaranteed_pod, machine, picture_matches
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_second_page_sees_a_rest_submission_within_a_second(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", "8Gi"))
    owner = browsing.open(scenario)
    visitor = browsing.open(scenario, as_owner=False)
    for page in (owner, visitor):
        expect(page.locator("body")).to_have_attribute("data-ws", "open")

    result = browsing.submit(scenario, guaranteed_pod("streamed", {"app": {"memory": "2Gi"}}))
    # Within a second of the API acknowledging the submission, the other page shows it.
    block = visitor.locator("svg.machine .block[data-pod='streamed']")
    expect(block).to_have_attribute("data-size", str(2 * GI), timeout=1000)
    expect(visitor.locator("#version-badge")).to_have_text(f"version {result['version']}")
    expect(owner.locator("svg.machine .block[data-pod='streamed']")).to_have_count(1)
    picture_matches(visitor, browsing.get(f"/api/v1/scenarios/{scenario.id}"))


def test_a_page_resynchronises_after_its_socket_reconnects(browsing: Any) -> None:
    scenario = browsing.create(machine("8Gi", "8Gi"))
    visitor = browsing.new_page()
    urls: list[str] = []
    sockets: list[Any] = []
    cut = {"off": False}

    def relay(ws: Any) -> None:
        # While the line is cut, every reconnection attempt is dropped before reaching the server.
        urls.append(ws.url)
        if cut["off"]:
            ws.close()
            return
        ws.connect_to_server()
        sockets.append(ws)

    visitor.route_web_socket(re.compile(r".*/ws/scenarios/.*"), relay)
    visitor.goto(scenario.path)
    visitor.wait_for_selector("body[data-ready='true']")
    expect(visitor.locator("body")).to_have_attribute("data-ws", "open")
    held = visitor.evaluate("Number(document.body.dataset.version)")

    cut["off"] = True
    sockets[-1].close()
    expect(visitor.locator("body")).not_to_have_attribute("data-ws", "open")
    browsing.submit(scenario, guaranteed_pod("while-away", {"app": {"memory": "1Gi"}}))
    visitor.wait_for_timeout(700)
    expect(visitor.locator("svg.machine .block[data-pod='while-away']")).to_have_count(0)

    cut["off"] = False
    expect(visitor.locator("body")).to_have_attribute("data-ws", "open", timeout=8000)
    expect(visitor.locator("svg.machine .block[data-pod='while-away']")).to_have_count(1)
    expect(visitor.locator("#events .event[data-op='admit']")).to_have_count(1)
    # It reconnected saying which version it held, so the server could resynchronise it.
    assert urls[-1].endswith(f"?version={held}")


def test_a_batch_frame_is_applied_message_by_message(browsing: Any) -> None:
    """Two events the server sent apart arrive as one batch frame (as the server sends them under load,
    docs/CONTRACTS.md section 4): the page applies both in order, with no gap and no resync."""
    scenario = browsing.create(machine("8Gi", "8Gi"))
    visitor = browsing.new_page()
    to_server: list[str] = []
    held: list[str] = []

    def relay(ws: Any) -> None:
        server = ws.connect_to_server()

        def from_page(message: str | bytes) -> None:
            to_server.append(str(message))
            server.send(message)

        def from_server(message: str | bytes) -> None:
            text = message if isinstance(message, str) else message.decode()
            if json.loads(text)["type"] != "event":
                ws.send(text)
                return
            held.append(text)
            if len(held) == 2:
                ws.send('{"type":"batch","messages":[' + ",".join(held) + "]}")
                held.clear()

        ws.on_message(from_page)
        server.on_message(from_server)

    visitor.route_web_socket(re.compile(r".*/ws/scenarios/.*"), relay)
    visitor.goto(scenario.path)
    visitor.wait_for_selector("body[data-ready='true']")
    expect(visitor.locator("body")).to_have_attribute("data-ws", "open")

    browsing.submit(scenario, guaranteed_pod("first", {"app": {"memory": "1Gi"}}))
    visitor.wait_for_timeout(300)
    expect(visitor.locator("svg.machine .block[data-pod='first']")).to_have_count(0)  # held back
    result = browsing.submit(scenario, guaranteed_pod("second", {"app": {"memory": "2Gi"}}))

    expect(visitor.locator("svg.machine .block[data-pod='second']")).to_have_attribute(
        "data-size", str(2 * GI)
    )
    expect(visitor.locator("svg.machine .block[data-pod='first']")).to_have_attribute("data-size", str(GI))
    expect(visitor.locator("#version-badge")).to_have_text(f"version {result['version']}")
    expect(visitor.locator("#events .event[data-op='admit']")).to_have_count(2)
    assert not [m for m in to_server if '"resync"' in m], "each message of the batch followed the one before"
    picture_matches(visitor, browsing.get(f"/api/v1/scenarios/{scenario.id}"))
