"""Hostile input: whatever a client sends, the API answers with a clear 4xx in JSON, or a 2xx, never a 5xx.

- schemathesis drives every operation of /api/v1/openapi.json: no server error, and every response
  (status, content type, body) conforms to the schema the API publishes;
- hypothesis throws arbitrary and mutated scenario and pod documents at the writes: a refusal is a 4xx
  whose body names the field, and a refused request stores nothing;
- the classic attacks one by one, on both the scenario and the pod endpoint: oversized bodies (413),
  deeply nested JSON and YAML, YAML tags that would build Python objects (safe loading only), alias
  bombs, huge quantities and NUMA ids beyond what a kubelet can address.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from playground import services
from playground.models import Event, Pod, Scenario

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = "/api/v1/scenarios"
HTTP_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def node_document(*nodes: dict[str, Any], reserved_on: int = 0) -> dict[str, Any]:
    return {
        "name": "hostile",
        "machine": {"numa_nodes": list(nodes)},
        "kubelet": {
            "topology_manager_policy": "single-numa-node",
            "reserved_memory": [{"numa_node": reserved_on, "limits": {"memory": "512Mi"}}],
        },
    }


VALID_SCENARIO = node_document({"id": 0, "memory": "4Gi"}, {"id": 1, "memory": "4Gi"})


def pod_document(name: str, memory: Any = "1Gi") -> dict[str, Any]:
    resources = {"cpu": "1", "memory": memory}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {"name": "app", "image": "pause", "resources": {"requests": resources, "limits": resources}}
            ]
        },
    }


def stored() -> tuple[int, int, int]:
    return Scenario.objects.count(), Event.objects.count(), Pod.objects.count()


def assert_clear_refusal(
    response: Any, status: int | None = None, field: str | None = None
) -> dict[str, Any]:
    """A 4xx in the API's error shape: a sentence for a person and the fields it is about."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:500])
    if status is not None:
        assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"].strip()
    assert isinstance(body["errors"], list)
    for error in body["errors"]:
        assert isinstance(error["path"], str) and isinstance(error["message"], str)
    if field is not None:
        assert field in [error["path"] for error in body["errors"]], body
    return body


@pytest.fixture
def scenario(api_client: Client) -> dict[str, Any]:
    """A created scenario: its id, edit token and the Authorization header that goes with it."""
    response = api_client.post(SCENARIOS, json.dumps(VALID_SCENARIO), content_type="application/json")
    assert response.status_code == 201, response.content
    body = response.json()
    return {
        "id": body["id"],
        "token": body["edit_token"],
        "auth": {"HTTP_AUTHORIZATION": f"Bearer {body['edit_token']}"},
    }


def post_pods(client: Client, scenario: dict[str, Any], body: bytes | str, content_type: str) -> Any:
    return client.post(
        f"{SCENARIOS}/{scenario['id']}/pods", body, content_type=content_type, **scenario["auth"]
    )


def scenario_state(client: Client, scenario: dict[str, Any]) -> dict[str, Any]:
    return client.get(f"{SCENARIOS}/{scenario['id']}").json()


# --- schemathesis: every operation against the published schema ---------------------------------


@pytest.fixture(autouse=True)
def keep_the_test_connection() -> Iterator[None]:
    """Schemathesis calls the WSGI app directly; as Django's test client does, keep its request signals
    from closing the test database connection (with it, the test's transaction)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


# Loaded at import (Django is set up by pytest-django before collection); the schema view needs no database.
schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


@schema.parametrize()
@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_within_its_schema(case: Any) -> None:
    """Random ids and bodies: 404s and 4xx mostly; never a 5xx, always what the schema promises."""
    case.call_and_validate(checks=HTTP_CHECKS)


@schema.parametrize()
@hypothesis_settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_on_a_real_scenario_answers_within_its_schema(case: Any) -> None:
    """The same against an existing scenario with its edit token: the writes get past 401/404."""
    # Through the service layer: Django's test client would reconnect the signals closing the connection.
    created = services.create_scenario(VALID_SCENARIO)
    if case.path_parameters and "public_id" in case.path_parameters:
        case.path_parameters["public_id"] = created.scenario.public_id
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {created.edit_token}"}
    case.call_and_validate(checks=HTTP_CHECKS)


# --- hypothesis: arbitrary and mutated documents ------------------------------------------------

json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(["1Gi", "-1Gi", "1.5Gi", "1e400", "0", "64", "Static", "single-numa-node", "", "NaN"]),
)
json_values = st.recursive(
    json_leaves,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a document, containers and leaves."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths_of(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths_of(item, (*prefix, index))


def replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    target = copy
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new
    return copy


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """A valid document with one place (maybe the whole thing) replaced by an arbitrary value."""
    places = list(paths_of(document))
    return replaced(document, draw(st.sampled_from(places)), draw(json_values))


HYPOTHESIS = hypothesis_settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@HYPOTHESIS
@given(document=st.one_of(mutated(VALID_SCENARIO), json_values))
def test_a_scenario_document_is_created_or_clearly_refused(api_client: Client, document: Any) -> None:
    before = stored()
    response = api_client.post(SCENARIOS, json.dumps(document), content_type="application/json")
    if response.status_code == 201:
        assert stored()[0] == before[0] + 1
        return
    assert_clear_refusal(response)
    assert stored() == before, "a refused scenario must store nothing"


@HYPOTHESIS
@given(document=st.one_of(mutated(pod_document("candidate")), json_values))
def test_a_pod_document_is_decided_or_clearly_refused(
    api_client: Client, scenario: dict[str, Any], document: Any
) -> None:
    if isinstance(document, dict) and isinstance(document.get("metadata"), dict):
        # A fresh name each time, so no example is refused for a name an earlier one took.
        document["metadata"]["name"] = f"candidate-{Event.objects.count()}"
    before, version = stored(), scenario_state(api_client, scenario)["version"]
    response = post_pods(api_client, scenario, json.dumps(document), "application/json")
    if response.status_code == 201:
        outcomes = response.json()["outcomes"]
        assert response.json()["version"] == version + len(outcomes)
        assert all(isinstance(outcome["admitted"], bool) for outcome in outcomes)
        return
    assert_clear_refusal(response)
    assert stored() == before, "a refused pod must store nothing"
    assert scenario_state(api_client, scenario)["version"] == version


# --- one attack at a time, on both write endpoints ----------------------------------------------


def test_an_oversized_scenario_body_is_413_at_the_configured_limit(api_client: Client) -> None:
    limit = settings.PLAYGROUND_MAX_BODY_BYTES
    document = {**VALID_SCENARIO, "name": "x" * (limit + 1)}
    response = api_client.post(SCENARIOS, json.dumps(document), content_type="application/json")
    body = assert_clear_refusal(response, 413)
    assert str(limit) in body["detail"]
    assert stored() == (0, 0, 0)


def test_an_oversized_pod_body_is_413_and_changes_nothing(
    api_client: Client, scenario: dict[str, Any]
) -> None:
    before = stored()
    pods = "\n---\n".join(json.dumps(pod_document(f"p{index}")) for index in range(20_000))
    assert len(pods) > settings.PLAYGROUND_MAX_BODY_BYTES
    assert_clear_refusal(post_pods(api_client, scenario, pods, "application/yaml"), 413)
    assert stored() == before


def test_a_lying_content_length_is_refused_before_the_body_is_read(api_client: Client) -> None:
    """A client announcing a huge body is refused on the header alone."""
    response = api_client.post(
        SCENARIOS,
        json.dumps(VALID_SCENARIO),
        content_type="application/json",
        CONTENT_LENGTH=str(50 * 1024 * 1024),
    )
    assert_clear_refusal(response, 413)
    assert stored() == (0, 0, 0)


DEEP = 100_000


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        pytest.param("[" * DEEP + "]" * DEEP, "application/json", id="JSON arrays"),
        pytest.param('{"a":' * DEEP + "1" + "}" * DEEP, "application/json", id="JSON objects"),
        pytest.param("[" * DEEP + "]" * DEEP, "application/yaml", id="YAML flow sequences"),
        pytest.param(
            "".join(f"{'  ' * level}a:\n" for level in range(2000)), "application/yaml", id="YAML blocks"
        ),
        pytest.param("a: " + "{b: " * 500 + "1" + "}" * 500, "application/yaml", id="YAML flow mappings"),
    ],
)
def test_deep_nesting_is_a_clear_refusal_on_both_endpoints(
    api_client: Client, scenario: dict[str, Any], body: str, content_type: str
) -> None:
    before = stored()
    assert_clear_refusal(api_client.post(SCENARIOS, body, content_type=content_type))
    assert_clear_refusal(post_pods(api_client, scenario, body, content_type))
    assert stored() == before


@pytest.mark.parametrize(
    "tagged",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/new:subprocess.check_output [['touch', '{marker}']]",
        "!!python/name:os.system",
        "!!python/module:os",
        "!!python/object:pathlib.PosixPath {{}}",
        "!!binary aGVsbG8=",
        "!!set {{a, b}}",
    ],
)
def test_yaml_tags_never_build_python_objects(
    api_client: Client, scenario: dict[str, Any], tagged: str, tmp_path: Path
) -> None:
    """Safe loading only: a tag is refused (or yields plain data), and nothing it names is ever run."""
    marker = tmp_path / "pwned"
    value = tagged.format(marker=marker)
    before = stored()
    scenario_yaml = f"name: hostile\nmachine: {value}\nkubelet: {{}}\n"
    pod_yaml = f"apiVersion: v1\nkind: Pod\nmetadata: {{name: tagged}}\nspec: {value}\n"
    assert_clear_refusal(api_client.post(SCENARIOS, scenario_yaml, content_type="application/yaml"))
    assert_clear_refusal(post_pods(api_client, scenario, pod_yaml, "application/yaml"))
    assert not marker.exists()
    assert stored() == before


def alias_bomb(levels: int = 9, fan_out: int = 9) -> str:
    """Billion laughs: a few hundred bytes whose aliases expand to fan_out**levels values."""
    lines = ["l0: &l0 [lol]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fan_out)}]")
    return "\n".join(lines)


def test_a_yaml_alias_bomb_is_refused_on_both_endpoints(api_client: Client, scenario: dict[str, Any]) -> None:
    before = stored()
    bomb = alias_bomb()
    assert len(bomb) < 1000
    assert_clear_refusal(api_client.post(SCENARIOS, bomb, content_type="application/yaml"), 413)
    assert_clear_refusal(post_pods(api_client, scenario, bomb, "application/yaml"), 413)
    assert stored() == before


@pytest.mark.parametrize(
    ("node", "reserved_on", "field"),
    [
        pytest.param(
            {"id": 64, "memory": "4Gi"}, 64, "machine.numa_nodes[0].id", id="id 64: past the uint64 mask"
        ),
        pytest.param({"id": 2**40, "memory": "4Gi"}, 0, "machine.numa_nodes[0].id", id="id 2**40"),
        pytest.param({"id": 2**70, "memory": "4Gi"}, 0, "machine.numa_nodes[0].id", id="id beyond int64"),
        pytest.param({"id": -1, "memory": "4Gi"}, 0, "machine.numa_nodes[0].id", id="negative id"),
        pytest.param(
            {"id": "0; DROP TABLE", "memory": "4Gi"}, 0, "machine.numa_nodes[0].id", id="id not a number"
        ),
        pytest.param({"id": 0, "memory": "-4Gi"}, 0, "machine.numa_nodes[0].memory", id="negative memory"),
        pytest.param({"id": 0, "memory": "4Gj"}, 0, "machine.numa_nodes[0].memory", id="unknown suffix"),
        pytest.param({"id": 0, "memory": 1e300}, 0, "machine.numa_nodes[0].memory", id="memory as a float"),
        pytest.param(
            {"id": 0, "memory": "1" * 5000},
            0,
            "machine.numa_nodes[0].memory",
            id="5000 digits",
        ),
    ],
)
def test_numa_ids_and_quantities_out_of_range_are_422_naming_the_field(
    api_client: Client, node: dict[str, Any], reserved_on: int, field: str
) -> None:
    response = api_client.post(
        SCENARIOS, json.dumps(node_document(node, reserved_on=reserved_on)), content_type="application/json"
    )
    assert_clear_refusal(response, 422, field)
    assert stored() == (0, 0, 0)


def test_more_numa_nodes_than_a_mask_holds_is_422_naming_the_first_beyond(api_client: Client) -> None:
    nodes = [{"id": index, "memory": "1Gi"} for index in range(65)]
    response = api_client.post(SCENARIOS, json.dumps(node_document(*nodes)), content_type="application/json")
    assert_clear_refusal(response, 422, "machine.numa_nodes[64].id")
    assert stored() == (0, 0, 0)


def test_reserved_memory_on_a_numa_node_beyond_the_machine_is_422(api_client: Client) -> None:
    document = node_document({"id": 0, "memory": "4Gi"}, reserved_on=63)
    assert_clear_refusal(
        api_client.post(SCENARIOS, json.dumps(document), content_type="application/json"), 422
    )
    assert stored() == (0, 0, 0)


@pytest.mark.parametrize("memory", ["1e400", str(2**64), 2**70])
def test_a_machine_quantity_beyond_int64_is_422_naming_the_field(api_client: Client, memory: Any) -> None:
    response = api_client.post(
        SCENARIOS, json.dumps(node_document({"id": 0, "memory": memory})), content_type="application/json"
    )
    assert_clear_refusal(response, 422, "machine.numa_nodes[0].memory")


@pytest.mark.parametrize("memory", ["1e400", "8Ei", str(2**63), 2**100, "99999999999999999999999Ei"])
def test_a_pod_quantity_beyond_int64_is_the_kubelets_own_rejection(
    api_client: Client, scenario: dict[str, Any], memory: Any
) -> None:
    """The real kubelet's Quantity.AsInt64 fails on these and it rejects the pod with those words
    (vectors/README.md quirk 3): the playground shows that decision, and nothing is allocated."""
    before = scenario_state(api_client, scenario)
    response = post_pods(api_client, scenario, json.dumps(pod_document("huge", memory)), "application/json")
    assert response.status_code == 201, response.content
    outcome = response.json()["outcomes"][0]
    assert outcome["admitted"] is False
    assert outcome["reason"] == "UnexpectedAdmissionError"
    assert "failed to represent quantity as int64" in outcome["message"]
    after = scenario_state(api_client, scenario)
    assert after["state"] == before["state"], "a rejected pod takes no memory"
    assert [pod["status"] for pod in after["pods"]] == ["Failed"]


@pytest.mark.parametrize(
    ("memory", "field"),
    [
        ("NaN", "pod.spec.containers[0].resources.requests.memory"),
        ("1Gi; rm -rf /", "pod.spec.containers[0].resources.requests.memory"),
        pytest.param(
            "1" * 5000 + "Gi",
            "pod.spec.containers[0].resources.requests.memory",
        ),
    ],
)
def test_a_pod_quantity_that_does_not_parse_is_422_naming_the_field(
    api_client: Client, scenario: dict[str, Any], memory: str, field: str
) -> None:
    before = stored()
    response = post_pods(api_client, scenario, json.dumps(pod_document("bad", memory)), "application/json")
    assert_clear_refusal(response, 422, field)
    assert stored() == before


@pytest.mark.parametrize("quantity", ["1e40000000", "1e-40000000"])
def test_a_short_quantity_with_a_huge_exponent_is_decided_quickly(quantity: str) -> None:
    """Eleven characters must not cost minutes of CPU: a denial of service on any write endpoint.

    Run in a child process so that the slow case is killed at the deadline instead of hanging the suite.
    """
    code = (
        "import sys; from allocator import parse_scenario, InputError\n"
        "doc = {'name': 'x', 'machine': {'numa_nodes': [{'id': 0, 'memory': sys.argv[1]}]}}\n"
        "try:\n    parse_scenario(doc)\nexcept InputError:\n    pass\n"
    )
    try:
        subprocess.run([sys.executable, "-c", code, quantity], cwd=REPO, timeout=10, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"parsing {quantity!r} took more than 10 s")


@pytest.mark.parametrize(
    ("text", "what"),
    [("web\u0000", "NUL character"), ("web\ud800", "lone surrogate")],
)
def test_text_no_database_can_store_is_422_naming_the_field(
    api_client: Client, scenario: dict[str, Any], text: str, what: str
) -> None:
    """PostgreSQL's JSON refuses NUL and no database stores a lone surrogate: refused before storing.

    (Found by the hypothesis test above on PostgreSQL: both were 500s.)
    """
    before = stored()
    labelled = pod_document("labelled")
    labelled["metadata"]["labels"] = {"app": text}
    body = json.dumps(labelled)  # ASCII escapes: \\u0000, \\ud800
    response = post_pods(api_client, scenario, body, "application/json")
    assert_clear_refusal(response, 422, "metadata.labels.app")
    named = json.dumps({**VALID_SCENARIO, "name": text})
    assert_clear_refusal(api_client.post(SCENARIOS, named, content_type="application/json"), 422, "name")
    keyed = json.dumps({**VALID_SCENARIO, "machine": {**VALID_SCENARIO["machine"], text: 1}})
    assert_clear_refusal(api_client.post(SCENARIOS, keyed, content_type="application/json"), 422, "machine")
    assert stored() == before, what
