"""Security: edit tokens, logs, pages, the websocket, CSRF, headers and size limits.

- every write to an existing scenario needs its edit token: each write operation the API publishes
  answers 401 without one and 403 with another scenario's, and stores nothing;
- only the token's hash is stored (the token appears in no table), compared in constant time;
- the token never reaches a log line (every logger captured at DEBUG, SQL included) nor the HTML a
  read-only visitor gets, nor any websocket message;
- the websocket accepts only pages of an allowed host and is read-only whatever it is sent;
- CSRF: the pages only GET; the API refuses the bodies a cross-site form can send; Django's CSRF
  middleware guards the admin form;
- security headers on pages and API; body, pods-per-request and scenario-size limits.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.db import connection
from django.test import Client, override_settings

from playground import services
from playground.asgi import application
from playground.models import Event, Pod, Scenario

SCENARIOS = "/api/v1/scenarios"
# POSTs any reader may make: a fork creates a new scenario with its own token, a preview computes a
# what-if without storing it. Neither may change the scenario they read (checked below).
OPEN_WRITES = {
    ("POST", "/api/v1/scenarios/{public_id}/fork"),
    ("POST", "/api/v1/scenarios/{public_id}/restart/preview"),
}
WRITE_METHODS = {"post", "put", "patch", "delete"}


def machine_document() -> dict[str, Any]:
    return {
        "name": "security",
        "machine": {"numa_nodes": [{"id": 0, "memory": "8Gi"}, {"id": 1, "memory": "8Gi"}]},
        "kubelet": {"reserved_memory": [{"numa_node": 0, "limits": {"memory": "512Mi"}}]},
    }


def pod(name: str, memory: str = "1Gi") -> dict[str, Any]:
    resources = {"cpu": "1", "memory": memory}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "resources": {"requests": resources, "limits": resources}}]},
    }


def create(client: Client) -> tuple[str, str]:
    response = client.post(SCENARIOS, json.dumps(machine_document()), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()["id"], response.json()["edit_token"]


def stored() -> tuple[int, int, int]:
    return Scenario.objects.count(), Event.objects.count(), Pod.objects.count()


# --- every write needs the edit token ------------------------------------------------------------


def scenario_writes(client: Client) -> list[tuple[str, str]]:
    """(METHOD, path template) of every operation that changes an existing scenario, from the schema."""
    schema = client.get("/api/v1/openapi.json").json()
    writes = [
        (method.upper(), path)
        for path, operations in schema["paths"].items()
        for method in operations
        if method in WRITE_METHODS and "{public_id}" in path
    ]
    return [write for write in writes if write not in OPEN_WRITES]


def request_write(client: Client, method: str, template: str, public_id: str, **headers: str) -> Any:
    path = template.replace("{public_id}", public_id).replace("{name}", "web")
    body = json.dumps(pod("intruder")) if method != "DELETE" else ""
    return client.generic(method, path, body, content_type="application/json", **headers)


@pytest.mark.django_db
def test_every_write_to_a_scenario_needs_its_edit_token(client: Client) -> None:
    public_id, token = create(client)
    other_id, other_token = create(client)
    assert (
        client.post(
            f"{SCENARIOS}/{public_id}/pods",
            json.dumps(pod("web")),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        ).status_code
        == 201
    )
    writes = scenario_writes(client)
    assert ("POST", "/api/v1/scenarios/{public_id}/pods") in writes
    assert ("DELETE", "/api/v1/scenarios/{public_id}/pods/{name}") in writes
    before = stored()
    for method, template in writes:
        anonymous = request_write(client, method, template, public_id)
        assert anonymous.status_code == 401, (method, template, anonymous.content)
        for wrong in (f"Bearer {other_token}", f"Bearer {token[:-1]}", f"bearer {token}x", f"Basic {token}"):
            refused = request_write(client, method, template, public_id, HTTP_AUTHORIZATION=wrong)
            assert refused.status_code in (401, 403), (method, template, wrong, refused.content)
        assert refused.json()["detail"]
        assert stored() == before, f"{method} {template} changed something without the token"
    # The reads-only POSTs never change the scenario they read, with or without a token.
    source = Scenario.objects.get(public_id=public_id)
    for method, template in OPEN_WRITES:
        request_write(client, method, template, public_id)
        request_write(client, method, template, public_id, HTTP_AUTHORIZATION=f"Bearer {other_token}")
    after = Scenario.objects.get(public_id=public_id)
    assert (after.version, after.events.count(), after.pods.count()) == (
        source.version,
        source.events.count(),
        source.pods.count(),
    )
    # A token opens its own scenario only: with other_token, "web" is simply not there.
    response = client.delete(f"{SCENARIOS}/{other_id}/pods/web", HTTP_AUTHORIZATION=f"Bearer {other_token}")
    assert response.status_code == 404


@pytest.mark.django_db
def test_the_token_is_stored_nowhere_only_its_hash(client: Client) -> None:
    public_id, token = create(client)
    client.post(
        f"{SCENARIOS}/{public_id}/pods",
        json.dumps(pod("web")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    row = Scenario.objects.get(public_id=public_id)
    assert row.edit_token_hash == services.hash_token(token) != token
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f'SELECT * FROM "{table}"')  # every table, every column
            text = json.dumps(cursor.fetchall(), default=str)
            assert token not in text, f"the edit token is stored in {table}"


@pytest.mark.django_db
def test_tokens_are_compared_in_constant_time(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    public_id, token = create(client)
    compared: list[tuple[Any, Any]] = []
    real = hmac.compare_digest

    def spy(a: Any, b: Any) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}x"}
    refused = client.post(
        f"{SCENARIOS}/{public_id}/pods", json.dumps(pod("a")), content_type="application/json", **auth
    )
    assert refused.status_code == 403
    assert compared, "the token check must go through hmac.compare_digest"
    # Hashes of equal length are compared, never the raw token.
    assert all(token not in (a, b) and len(a) == len(b) for a, b in compared)
    compared.clear()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    accepted = client.post(
        f"{SCENARIOS}/{public_id}/pods", json.dumps(pod("a")), content_type="application/json", **auth
    )
    assert accepted.status_code == 201 and compared


# --- tokens never in logs, pages or websocket messages ------------------------------------------


# Loggers that do not propagate to the root (Django's request logger in our settings) are watched too.
WATCHED_LOGGERS = (
    "",
    "django",
    "django.request",
    "django.server",
    "django.db.backends",
    "playground",
    "daphne",
)


@pytest.fixture
def everything_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every logger at DEBUG, SQL statements included."""
    loggers = [logging.getLogger(name) for name in WATCHED_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
        if logger.name != "root":
            logger.addHandler(caplog.handler)
    previous = connection.force_debug_cursor
    connection.force_debug_cursor = True
    try:
        yield caplog
    finally:
        connection.force_debug_cursor = previous
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
            if logger.name != "root":
                logger.removeHandler(caplog.handler)


@pytest.mark.django_db
def test_tokens_never_reach_the_logs(client: Client, everything_logged: pytest.LogCaptureFixture) -> None:
    public_id, token = create(client)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    wrong = {"HTTP_AUTHORIZATION": f"Bearer {token[::-1]}"}
    headers = {"content_type": "application/json"}
    client.post(f"{SCENARIOS}/{public_id}/pods", json.dumps(pod("web")), **headers, **auth)
    client.post(f"{SCENARIOS}/{public_id}/pods", json.dumps(pod("web")), **headers, **auth)  # 409
    client.post(f"{SCENARIOS}/{public_id}/pods", json.dumps(pod("bad", "lots")), **headers, **auth)  # 422
    client.post(f"{SCENARIOS}/{public_id}/pods", json.dumps(pod("x")), **headers, **wrong)  # 403
    client.post(f"{SCENARIOS}/{public_id}/restart", "{}", **headers, **auth)
    client.get(f"{SCENARIOS}/{public_id}/access", **auth)
    client.delete(f"{SCENARIOS}/{public_id}/pods/web", **auth)
    client.delete(f"{SCENARIOS}/{public_id}/pods/nobody", **auth)  # 404
    logged = "\n".join(
        f"{record.getMessage()} {record.__dict__.get('sql', '')} {record.__dict__.get('params', '')}"
        for record in everything_logged.records
    )
    assert "playground_scenario" in logged, "the capture must see the SQL, or it proves nothing"
    for secret in (token, token[::-1]):
        assert secret not in logged


@pytest.mark.django_db
def test_a_read_only_visitor_never_gets_the_token_in_the_page(client: Client) -> None:
    public_id, token = create(client)
    client.post(
        f"{SCENARIOS}/{public_id}/pods",
        json.dumps(pod("web")),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    share_url = client.get(f"{SCENARIOS}/{public_id}").json()["share_url"]
    visitor = Client()
    for path in (
        share_url,
        f"{SCENARIOS}/{public_id}",
        f"{SCENARIOS}/{public_id}/events",
        f"{SCENARIOS}/{public_id}/export",
        f"{SCENARIOS}/{public_id}/state",
        "/",
    ):
        response = visitor.get(path.replace("http://testserver", ""))
        assert response.status_code == 200, path
        text = response.content.decode()
        assert token not in text and services.hash_token(token) not in text, path
    assert token not in share_url


ORIGIN = [(b"origin", b"http://localhost"), (b"host", b"localhost")]


@database_sync_to_async
def new_scenario() -> tuple[str, str]:
    created = services.create_scenario(machine_document())
    return created.scenario.public_id, created.edit_token


@database_sync_to_async
def version_of(public_id: str) -> tuple[int, int]:
    scenario = Scenario.objects.get(public_id=public_id)
    return scenario.version, scenario.events.count()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "origin",
    [
        b"http://evil.example",
        b"http://localhost.evil.example",
        b"null",
        b"file://",
    ],
)
async def test_the_websocket_refuses_pages_of_other_origins(origin: bytes) -> None:
    public_id, _ = await new_scenario()
    communicator = WebsocketCommunicator(
        application, f"/ws/scenarios/{public_id}/", headers=[(b"origin", origin), (b"host", b"localhost")]
    )
    connected, _ = await communicator.connect()
    assert not connected
    await communicator.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_the_websocket_is_read_only_and_never_carries_the_token() -> None:
    public_id, token = await new_scenario()
    communicator = WebsocketCommunicator(application, f"/ws/scenarios/{public_id}/", headers=ORIGIN)
    connected, _ = await communicator.connect()
    assert connected
    snapshot = await communicator.receive_json_from()
    before = await version_of(public_id)
    attempts: list[Any] = [
        {"type": "admit", "pod": pod("sneaky")},
        {"op": "admit", "pod": pod("sneaky"), "token": token},
        {"type": "scenario.event", "version": 99, "event": {}, "scenario": {}},  # a group message's shape
        {"type": "remove", "pod_uid": "x", "edit_token": token},
        [1, 2, 3],
        "admit",
    ]
    for attempt in attempts:
        await communicator.send_json_to(attempt)
        answer = await communicator.receive_json_from()
        assert answer["type"] == "error", attempt
    for frame in ({"text_data": "{not json"}, {"bytes_data": b"\x00\xff"}):
        await communicator.send_to(**frame)
        assert (await communicator.receive_json_from())["type"] == "error", frame
    await communicator.send_json_to({"type": "resync"})
    messages = [await communicator.receive_json_from()]
    assert messages[-1]["type"] == "snapshot"
    assert await version_of(public_id) == before
    for message in (snapshot, *messages):
        text = json.dumps(message)
        assert token not in text and services.hash_token(token) not in text
    await communicator.disconnect()


# --- CSRF ----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_only_read_and_carry_a_csrf_token_for_their_scripts() -> None:
    client = Client(enforce_csrf_checks=True)
    public_id, _ = create(client)
    for path in ("/", f"/s/{public_id}/", "/import/"):
        page = client.get(path)
        assert page.status_code == 200
        assert 'name="csrf-token"' in page.content.decode(), path
        # No page accepts a form post: a cross-site form has nothing to submit to.
        assert client.post(path, {"name": "x"}).status_code in (403, 405), path


@pytest.mark.django_db
@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "text/plain"],
)
def test_the_api_refuses_what_a_cross_site_form_can_send(content_type: str) -> None:
    """Forms (and no-preflight fetches) can only send these types; every write refuses them."""
    client = Client(enforce_csrf_checks=True)
    public_id, token = create(client)
    before = stored()
    body = json.dumps(machine_document())
    assert client.post(SCENARIOS, body, content_type=content_type).status_code in (403, 415)
    refused = client.post(
        f"{SCENARIOS}/{public_id}/pods",
        json.dumps(pod("csrf")),
        content_type=content_type,
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert refused.status_code in (403, 415)
    assert client.post(f"{SCENARIOS}/{public_id}/fork", "{}", content_type=content_type).status_code in (
        403,
        415,
    )
    assert stored() == before


@pytest.mark.django_db
def test_the_admin_login_form_is_csrf_protected() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/admin/login/", {"username": "admin", "password": "x"})
    assert response.status_code == 403


# --- headers and limits --------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_and_api_carry_security_headers(client: Client) -> None:
    public_id, _ = create(client)
    for path in ("/", f"/s/{public_id}/", f"{SCENARIOS}/{public_id}", "/api/v1/health"):
        response = client.get(path)
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", path
        assert "Server" not in response or "Python" not in response["Server"], path
        policy = dict(
            directive.strip().split(" ", 1) for directive in response["Content-Security-Policy"].split(";")
        )
        assert policy["script-src"] == "'self'", path  # no inline or foreign script can run
        assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'", path


@pytest.mark.django_db
@override_settings(PLAYGROUND_MAX_BODY_BYTES=4096, DATA_UPLOAD_MAX_MEMORY_SIZE=4096)
def test_a_body_over_the_limit_is_413_on_every_write(client: Client) -> None:
    public_id, token = create(client)
    big = {**machine_document(), "name": "n" * 5000}
    before = stored()
    assert client.post(SCENARIOS, json.dumps(big), content_type="application/json").status_code == 413
    huge_pod = pod("big")
    huge_pod["metadata"]["labels"] = {"padding": "p" * 5000}
    response = client.post(
        f"{SCENARIOS}/{public_id}/pods",
        json.dumps(huge_pod),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 413 and "4096" in response.json()["detail"]
    assert (
        client.post(
            f"{SCENARIOS}/{public_id}/fork", json.dumps({"name": "f" * 5000}), content_type="application/json"
        ).status_code
        == 413
    )
    assert stored() == before


@pytest.mark.django_db
@override_settings(PLAYGROUND_MAX_PODS_PER_REQUEST=3, PLAYGROUND_MAX_EVENTS=5)
def test_a_scenario_cannot_grow_past_its_limits(client: Client) -> None:
    public_id, token = create(client)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    many = [pod(f"m{index}", "64Mi") for index in range(4)]
    too_many = client.post(
        f"{SCENARIOS}/{public_id}/pods", json.dumps(many), content_type="application/json", **auth
    )
    assert too_many.status_code == 413
    for index in range(5):
        one = client.post(
            f"{SCENARIOS}/{public_id}/pods",
            json.dumps(pod(f"p{index}", "64Mi")),
            content_type="application/json",
            **auth,
        )
        assert one.status_code == 201
    before = stored()
    full = client.post(
        f"{SCENARIOS}/{public_id}/pods",
        json.dumps(pod("p5", "64Mi")),
        content_type="application/json",
        **auth,
    )
    assert full.status_code == 413 and full.json()["detail"]
    steps = [{"op": "admit", "pod": pod(f"s{index}", "64Mi")} for index in range(6)]
    created = client.post(
        SCENARIOS, json.dumps({**machine_document(), "steps": steps}), content_type="application/json"
    )
    assert created.status_code == 413
    assert stored() == before
