"""The REST API under /api/v1 (django-ninja; OpenAPI docs at /api/v1/docs).

Handlers are thin: read the body and the Bearer token, call ``services``, shape the answer. Every
error is JSON ``{"detail", "errors": [{"path", "message"}]}`` with 401/403/404/409/413/415/422.
"""

from __future__ import annotations

import datetime
import json
import math
from typing import Any, TypeVar

import pydantic
import yaml
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import HttpError, ValidationError
from ninja.responses import Status

from playground import fastjson, schemas, services
from playground.services import Invalid, ServiceError, TooLarge

api = NinjaAPI(
    title="Memory Manager Playground",
    version="1",
    description=(
        "Scenarios of the kubelet Memory Manager (Static policy) and Topology Manager: create a node, "
        "submit pods (JSON or YAML), read states, events and exports. Writes need the scenario's edit "
        "token as `Authorization: Bearer <token>`."
    ),
    urls_namespace="api-v1",
    openapi_extra={
        "components": {"securitySchemes": {"editToken": {"type": "http", "scheme": "bearer"}}},
    },
)

JSON_TYPES = {"application/json", ""}
YAML_TYPES = {"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"}
MAX_DEPTH = 64
MAX_NODES = 200_000
ERRORS: dict[int, type] = {code: schemas.ErrorOut for code in (401, 403, 404, 409, 413, 415, 422)}
EDIT = {"security": [{"editToken": []}]}


BodyModel = TypeVar("BodyModel", bound=pydantic.BaseModel)


class UnsupportedMediaType(ServiceError):
    status = 415


# --- errors -------------------------------------------------------------------------------------


@api.exception_handler(ServiceError)
def service_error(request: HttpRequest, exc: ServiceError) -> HttpResponse:
    return api.create_response(request, exc.as_dict(), status=exc.status)


@api.exception_handler(ValidationError)
def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [
        {"path": ".".join(str(part) for part in error.get("loc", ())), "message": str(error.get("msg", ""))}
        for error in exc.errors
    ]
    where = ", ".join(error["path"] for error in errors)
    return api.create_response(
        request, {"detail": f"Invalid request: {where}.", "errors": errors}, status=422
    )


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": str(exc.message), "errors": []}, status=exc.status_code)


# --- request bodies -----------------------------------------------------------------------------


def bearer_token(request: HttpRequest) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None when absent or another scheme."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def raw_body(request: HttpRequest) -> bytes:
    """The request body, refused with 413 above PLAYGROUND_MAX_BODY_BYTES before it is read."""
    limit = settings.PLAYGROUND_MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise TooLarge(f"The request body is {declared} bytes; the limit is {limit}.")
    try:
        body = request.body
    except RequestDataTooBig:
        raise TooLarge(f"The request body is larger than the limit of {limit} bytes.") from None
    if len(body) > limit:
        raise TooLarge(f"The request body is larger than the limit of {limit} bytes.")
    return body


def media_type(request: HttpRequest) -> str:
    return request.content_type.split(";")[0].strip().lower() if request.content_type else ""


def reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def storable_text(text: str, path: str) -> str:
    """Text every database can keep: PostgreSQL's JSON refuses NUL, and a lone surrogate (valid in a
    JSON escape) is not UTF-8. Without this check both reach the database and fail there with a 500."""
    if "\x00" in text:
        raise Invalid(
            "The document holds a NUL character.", [{"path": path or "body", "message": "NUL character"}]
        )
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(
            "The document holds text that is not valid Unicode.",
            [{"path": path or "body", "message": "invalid Unicode (a lone surrogate)"}],
        ) from None
    return text


def json_value(value: Any, path: str, depth: int, budget: list[int]) -> Any:
    """A parsed document as plain JSON: bounded depth and size, YAML-only types made JSON or refused."""
    budget[0] -= 1
    if budget[0] < 0:
        raise TooLarge(f"The document has more than {MAX_NODES} values.")
    if depth > MAX_DEPTH:
        raise Invalid(
            f"The document nests deeper than {MAX_DEPTH} levels.",
            [{"path": path or "body", "message": "nested too deeply"}],
        )
    if isinstance(value, dict):
        return {
            storable_text(str(key), path or "body"): json_value(
                item, f"{path}.{key}" if path else str(key), depth + 1, budget
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [json_value(item, f"{path}[{index}]", depth + 1, budget) for index, item in enumerate(value)]
    if isinstance(value, float) and not math.isfinite(value):
        raise Invalid(
            "The document holds a number that is not finite.", [{"path": path, "message": "not finite"}]
        )
    if isinstance(value, datetime.date):
        return value.isoformat()  # YAML timestamps: Kubernetes reads them as strings too
    if isinstance(value, str):
        return storable_text(value, path)
    if value is None or isinstance(value, int | float | bool):
        return value
    raise Invalid(
        f"The document holds a {type(value).__name__} value, which JSON cannot carry.",
        [{"path": path, "message": "unsupported value type"}],
    )


def storable(text: str) -> bool:
    """``storable_text`` as a yes/no, for the fast check."""
    if "\x00" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def plain_json(docs: list[Any]) -> bool:
    """Whether ``json_value`` would give the documents back unchanged: plain JSON types only, storable
    text, within MAX_DEPTH and MAX_NODES. A flat walk without the paths, which only an error needs:
    a document that fails it goes through ``json_value``, which names the path in its answer."""
    budget = MAX_NODES
    stack: list[tuple[Any, int]] = [(doc, 0) for doc in docs]
    while stack:
        value, depth = stack.pop()
        budget -= 1
        if budget < 0 or depth > MAX_DEPTH:
            return False
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if type(key) is not str or not storable(key):
                    return False
                stack.append((item, depth + 1))
        elif kind is list:
            stack.extend((item, depth + 1) for item in value)
        elif kind is str:
            if not storable(value):
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif not (value is None or kind is int or kind is bool):
            return False
    return True


def parse_body(request: HttpRequest, allow_yaml: bool = True) -> list[Any]:
    """The documents of the body: one for JSON, one per YAML document (``---``), empty ones skipped."""
    body = raw_body(request)
    kind = media_type(request)
    try:
        if kind in JSON_TYPES or kind.endswith("+json"):
            docs = [json.loads(body, parse_constant=reject_constant)] if body.strip() else []
        elif allow_yaml and kind in YAML_TYPES:
            # safe_load_all: plain data only, YAML tags that would build Python objects are refused.
            docs = [doc for doc in yaml.safe_load_all(body) if doc is not None]
        else:
            accepted = "application/json" + (" or application/yaml" if allow_yaml else "")
            raise UnsupportedMediaType(f"Content-Type {kind!r} is not supported; send {accepted}.")
    except (ValueError, yaml.YAMLError) as exc:
        raise Invalid(
            f"The body does not parse: {exc}".strip(), [{"path": "body", "message": str(exc)}]
        ) from None
    except RecursionError:
        raise Invalid(
            "The body nests too deeply.", [{"path": "body", "message": "nested too deeply"}]
        ) from None
    if plain_json(docs):
        return docs  # what json_value would rebuild, object for object
    budget = [MAX_NODES]
    return [json_value(doc, "", 0, budget) for doc in docs]


def one_document(request: HttpRequest, required: bool = True) -> Any:
    docs = parse_body(request)
    if len(docs) > 1:
        raise Invalid("Send one document here.", [{"path": "body", "message": "expected one document"}])
    if not docs:
        if required:
            raise Invalid("The body is empty.", [{"path": "body", "message": "required"}])
        return {}
    return docs[0]


def pods_of(docs: list[Any]) -> tuple[list[Any], list[str]]:
    """Pods from documents: a Pod, a list of Pods, or a v1 List; with the path that names each one."""
    pods: list[Any] = []
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            pods.extend(doc["items"])
        elif isinstance(doc, list):
            pods.extend(doc)
        else:
            pods.append(doc)
    paths = ["pod"] if len(pods) == 1 else [f"pods[{index}]" for index in range(len(pods))]
    return pods, paths


def base_url(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def created_body(request: HttpRequest, created: services.Created) -> dict[str, Any]:
    scenario = created.scenario
    return {
        "id": scenario.public_id,
        "edit_token": created.edit_token,
        "version": scenario.version,
        "state": scenario.state,
        "share_url": base_url(request) + services.share_path(scenario.public_id),
        "outcomes": created.outcomes,
    }


def validated(model: type[BodyModel], document: Any) -> BodyModel:
    """A small JSON body checked against its schema; pydantic's errors become 422 with field paths."""
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as exc:
        errors = [
            {"path": ".".join(str(part) for part in error["loc"]) or "body", "message": error["msg"]}
            for error in exc.errors()
        ]
        raise Invalid("The request body is invalid.", errors) from None


def optional_body(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        }
    }


# --- endpoints ----------------------------------------------------------------------------------

DOCUMENT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": schemas.ScenarioDocument.model_json_schema()},
            "application/yaml": {"schema": {"type": "string"}},
        },
    }
}
POD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "object", "description": "a v1 Pod, a list of Pods or a v1 List"}
            },
            "application/yaml": {"schema": {"type": "string", "description": "one or more Pod documents"}},
        },
    },
    **EDIT,
}


@api.post(
    "/scenarios",
    response={201: schemas.CreatedOut, **ERRORS},
    openapi_extra=DOCUMENT_BODY,
    summary="Create a scenario",
    tags=["scenarios"],
)
def create_scenario(request: HttpRequest) -> Status[dict[str, Any]]:
    """A scenario document (`name`, `machine`, `kubelet`, optional `steps`), as JSON or YAML."""
    created = services.create_scenario(one_document(request))
    return Status(201, created_body(request, created))


@api.get("/scenarios/{public_id}", response={200: schemas.ScenarioOut, **ERRORS}, tags=["scenarios"])
def get_scenario(request: HttpRequest, public_id: str) -> dict[str, Any]:
    """The scenario: definition, pods with status and blocks, state, NUMA groups, version."""
    return services.scenario_view(services.get_scenario(public_id), base_url(request))


@api.get(
    "/scenarios/{public_id}/access",
    response={200: schemas.AccessOut, **ERRORS},
    tags=["scenarios"],
    openapi_extra=EDIT,
)
def access(request: HttpRequest, public_id: str) -> dict[str, Any]:
    """Whether the Bearer token sent (if any) may edit this scenario; never an error for a wrong token."""
    return {"can_edit": services.can_edit(services.get_scenario(public_id), bearer_token(request))}


@api.post(
    "/scenarios/{public_id}/pods",
    response={201: schemas.AdmittedOut, **ERRORS},
    openapi_extra=POD_BODY,
    summary="Submit pods",
    tags=["pods"],
)
def submit_pods(request: HttpRequest, public_id: str, light: bool = False) -> HttpResponse:
    """One Pod as JSON, or YAML with one or more documents; each is admitted (or rejected) in order.

    `light=true`: each outcome without its `checkpoint` (it grows with the running pods; the latest
    is in `/state` and `/export`).
    """
    token = bearer_token(request)
    if token is None:
        services.check_token_hash("", token)  # 401 before the body is read; the write checks the rest
    pods, paths = pods_of(parse_body(request))
    applied = services.admit_pods(public_id, token, pods, paths)
    # The hot path: answer directly, skipping ninja's re-validation of the (large) outcomes.
    # Each outcome was encoded once for the event log (the light outcome and the checkpoint, spliced
    # into the whole one): the same bytes here, what fastjson.dumps({"version", "outcomes"}) would write.
    encoded = applied.encoded_light if light else applied.encoded
    body = b'{"version":%d,"outcomes":[%b]}' % (applied.version, b",".join(encoded))
    return fastjson.bytes_response(body, status=201)


@api.delete(
    "/scenarios/{public_id}/pods/{name}",
    response={200: schemas.RemovedOut, **ERRORS},
    openapi_extra=EDIT,
    summary="Delete a pod",
    tags=["pods"],
)
def delete_pod(request: HttpRequest, public_id: str, name: str) -> dict[str, Any]:
    """Delete a Running or Failed pod: the kubelet's remove step."""
    applied = services.remove_pod(public_id, bearer_token(request), name)
    return {"version": applied.version, "outcome": applied.outcomes[0]}


@api.post(
    "/scenarios/{public_id}/restart",
    response={201: schemas.RemovedOut, **ERRORS},
    openapi_extra={**optional_body(schemas.RestartIn), **EDIT},
    summary="Restart the kubelet",
    tags=["scenarios"],
)
def restart(request: HttpRequest, public_id: str) -> Status[dict[str, Any]]:
    """Restart the kubelet from its checkpoint, optionally with changes (machine, reserved memory, ...)."""
    token = bearer_token(request)
    services.authorize(public_id, token)
    body = validated(schemas.RestartIn, one_document(request, required=False))
    applied = services.restart(public_id, token, body.changes)
    return Status(201, {"version": applied.version, "outcome": applied.outcomes[0]})


@api.get("/scenarios/{public_id}/events", response={200: schemas.EventsOut, **ERRORS}, tags=["history"])
def events(
    request: HttpRequest, public_id: str, after: int = -1, limit: int = 1000, light: bool = False
) -> dict[str, Any]:
    """Events with a version greater than `after` (default: all, from the creation at version 0).

    `light=true`: outcomes without their `checkpoint`, which grows with the running pods, so a long
    timeline loads quickly.
    """
    return {"events": services.events_after(public_id, after, max(1, min(limit, 5000)), light)}


@api.get("/scenarios/{public_id}/state", response={200: schemas.StateOut, **ERRORS}, tags=["history"])
def state(request: HttpRequest, public_id: str, version: int | None = None) -> dict[str, Any]:
    """The machine state, NUMA groups and pods at `version` (default: the latest)."""
    return services.state_at(public_id, version)


@api.post(
    "/scenarios/{public_id}/fork",
    response={201: schemas.CreatedOut, **ERRORS},
    openapi_extra=optional_body(schemas.ForkIn),
    tags=["scenarios"],
)
def fork(request: HttpRequest, public_id: str) -> Status[dict[str, Any]]:
    """A new scenario with this one's history up to `version`, and its own edit token."""
    body = validated(schemas.ForkIn, one_document(request, required=False))
    created = services.fork_scenario(public_id, body.version, body.name)
    return Status(201, created_body(request, created))


@api.get("/scenarios/{public_id}/export", response={200: dict[str, Any], **ERRORS}, tags=["history"])
def export(request: HttpRequest, public_id: str, expect: bool = True) -> dict[str, Any]:
    """The scenario document with all steps (and their outcomes as `expect`): `python -m allocator replay`."""
    return services.export_scenario(public_id, with_expect=expect)


@api.get("/health", response={200: schemas.HealthOut}, tags=["operations"])
def health(request: HttpRequest) -> dict[str, Any]:
    """Liveness and readiness: the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    layer = settings.CHANNEL_LAYERS["default"]["BACKEND"].rsplit(".", 1)[-1]
    return {"status": "ok", "database": connection.vendor, "channel_layer": layer}


api.add_router("", "playground.interop.router")  # kubelet interop (engineer H): import, exports, metrics
