"""Kubelet interop endpoints under /api/v1 (a django-ninja Router mounted by ``playground.api``).

Import a real node (``memory_manager_state``, ``KubeletConfiguration``, ``--reserved-memory``,
``numactl --hardware``, cadvisor machine info) into a scenario; export what the kubelet writes for a
scenario (the checkpoint file byte for byte, the configuration snippet, pods YAML, a bug report); a
what-if kubelet restart; the reservedMemory linter; the scenario's kubelet metrics in the Prometheus
text format. Handlers are thin: the work is in ``playground.interop_services``.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.responses import Status

from playground import interop_services, schemas

router = Router(tags=["kubelet interop"])

ERRORS: dict[int, type] = {code: schemas.ErrorOut for code in (401, 403, 404, 409, 413, 415, 422)}
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"

IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": (
                        "What you have on the node, as pasted. The machine: `numactl` (numactl "
                        "--hardware output), `cadvisor` (machine info JSON) or `machine` (scenario "
                        "format). The kubelet: `kubelet_configuration` (KubeletConfiguration YAML) or "
                        "`kubelet` (scenario format), `reserved_memory` (the --reserved-memory flag "
                        "value, which overrides reservedMemory). `checkpoint`: a memory_manager_state "
                        "file; machine and kubelet are then optional (inferred from the file)."
                    ),
                    "properties": {
                        key: {"type": "string"}
                        for key in (
                            "name",
                            "checkpoint",
                            "numactl",
                            "cadvisor",
                            "kubelet_configuration",
                            "reserved_memory",
                        )
                    }
                    | {"machine": {"type": "object"}, "kubelet": {"type": "object"}},
                }
            }
        },
    }
}


def text_ok(description: str, content: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    """``openapi_extra`` declaring a handler's 200 (content type -> body schema, ``None`` for none): the
    handler returns an ``HttpResponse`` itself, so ninja cannot infer it, and an undocumented 200 fails
    schema conformance (schemathesis)."""
    media = {kind: {} if schema is None else {"schema": schema} for kind, schema in content.items()}
    return {"responses": {200: {"description": description, "content": media}}}


TEXT: dict[str, Any] = {"type": "string"}
CHECKPOINT_OK = text_ok(
    "The memory_manager_state file (JSON), byte for byte as the kubelet writes it.",
    {
        "application/json": {
            "type": "object",
            "required": ["policyName", "machineState", "checksum"],
            "properties": {
                "policyName": {"type": "string"},
                "machineState": {"type": "object"},
                "entries": {"type": "object"},
                "checksum": {"type": "integer"},
            },
        }
    },
)
KUBELET_CONFIG_OK = text_ok(
    "The KubeletConfiguration snippet (`format=yaml`) or the `--reserved-memory` flag value (`format=flag`).",
    {"application/yaml": {"type": "object"}, "text/plain": TEXT},
)
# Several YAML documents (one per pod) have no single-value schema: the body is described, not typed.
PODS_OK = text_ok("The pods as multi-document YAML, one Pod per document.", {"application/yaml": None})
BUG_REPORT_OK = text_ok("A markdown bug report.", {"text/markdown": TEXT})
METRICS_OK = text_ok("Prometheus text exposition format 0.0.4.", {"text/plain": TEXT})


def rest() -> ModuleType:
    """``playground.api`` (body limits, tokens, response shapes), imported late: it mounts this router."""
    from playground import api

    return api


def text_response(text: str, content_type: str, filename: str | None = None) -> HttpResponse:
    response = HttpResponse(text.encode("utf-8"), content_type=content_type)
    if filename is not None:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def document(request: HttpRequest) -> Any:
    return rest().one_document(request)


# --- import ---------------------------------------------------------------------------------------


@router.post(
    "/import", response={201: dict[str, Any], **ERRORS}, openapi_extra=IMPORT_BODY, summary="Import a node"
)
def import_node(request: HttpRequest) -> Status[dict[str, Any]]:
    """A new scenario from what a node engineer has on a node; 422 (nothing stored) if the kubelet would
    refuse it, with the kubelet's own words and the import `report`."""
    imported = interop_services.import_node(document(request))
    return Status(201, {**rest().created_body(request, imported.created), "report": imported.report})


@router.post(
    "/import/checkpoint",
    response={201: dict[str, Any], **ERRORS},
    summary="Import a memory_manager_state file",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
def import_checkpoint_file(request: HttpRequest, name: str = "imported checkpoint") -> Status[dict[str, Any]]:
    """The raw file as the body (`curl --data-binary @/var/lib/kubelet/memory_manager_state`); the machine
    and the kubelet configuration are inferred from it."""
    body = rest().raw_body(request)
    text = body.decode("utf-8", errors="replace")
    imported = interop_services.import_node({"checkpoint": text or " ", "name": name})
    return Status(201, {**rest().created_body(request, imported.created), "report": imported.report})


@router.post("/import/preview", response={200: dict[str, Any], **ERRORS}, openapi_extra=IMPORT_BODY)
def import_preview(request: HttpRequest) -> dict[str, Any]:
    """What `POST /import` would create (machine, kubelet, pods, report), without storing anything."""
    return interop_services.preview(document(request))


@router.post("/lint", response={200: dict[str, Any], **ERRORS}, openapi_extra=IMPORT_BODY)
def lint(request: HttpRequest) -> dict[str, Any]:
    """The reservedMemory linter: `{"outcome": "ok" | "error", "error", "findings": [...]}`, every finding
    with the corrected reservedMemory block (as `python -m allocator lint --json`)."""
    return interop_services.lint(document(request))


# --- exports --------------------------------------------------------------------------------------


@router.get(
    "/scenarios/{public_id}/export/checkpoint",
    response=ERRORS,
    summary="memory_manager_state",
    openapi_extra=CHECKPOINT_OK,
)
def export_checkpoint(request: HttpRequest, public_id: str, version: int | None = None) -> HttpResponse:
    """The `memory_manager_state` file the kubelet writes for this state, byte for byte, checksum included."""
    text = interop_services.checkpoint_file(public_id, version)
    return text_response(text, "application/json", "memory_manager_state")


@router.get(
    "/scenarios/{public_id}/export/kubelet-config",
    response=ERRORS,
    summary="KubeletConfiguration",
    openapi_extra=KUBELET_CONFIG_OK,
)
def export_kubelet_config(request: HttpRequest, public_id: str, format: str = "yaml") -> HttpResponse:
    """The KubeletConfiguration snippet (`format=yaml`) or the `--reserved-memory` value (`format=flag`)."""
    if format not in ("yaml", "flag"):
        raise interop_services.Invalid(
            "format must be yaml or flag.", [{"path": "format", "message": "expected yaml or flag"}]
        )
    if format == "flag":
        flag = interop_services.kubelet_config(public_id, flag=True)
        return text_response(flag, "text/plain; charset=utf-8")
    return text_response(
        interop_services.kubelet_config(public_id), "application/yaml; charset=utf-8", "kubelet-config.yaml"
    )


@router.get(
    "/scenarios/{public_id}/export/pods.yaml", response=ERRORS, summary="Pods as YAML", openapi_extra=PODS_OK
)
def export_pods(request: HttpRequest, public_id: str) -> HttpResponse:
    """The scenario's pods (Running and Failed, in admission order) as multi-document YAML."""
    return text_response(
        interop_services.pods_document(public_id), "application/yaml; charset=utf-8", "pods.yaml"
    )


@router.get(
    "/scenarios/{public_id}/export/bug-report.md",
    response=ERRORS,
    summary="Bug report",
    openapi_extra=BUG_REPORT_OK,
)
def export_bug_report(request: HttpRequest, public_id: str) -> HttpResponse:
    """A markdown block for an upstream issue: configuration, topology, pods and every step's outcome."""
    text = interop_services.bug_report(public_id, rest().base_url(request))
    return text_response(text, "text/markdown; charset=utf-8", "bug-report.md")


# --- restart what-if and metrics -------------------------------------------------------------------


@router.post(
    "/scenarios/{public_id}/restart/preview",
    response={200: dict[str, Any], **ERRORS},
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": schemas.RestartIn.model_json_schema()}},
        }
    },
    summary="What if the kubelet restarted",
)
def restart_preview(request: HttpRequest, public_id: str, version: int | None = None) -> dict[str, Any]:
    """Whether the kubelet would come back after a restart with `changes` (e.g. a drifted machine), or its
    exact start-up error; nothing is stored and no token is needed. `POST .../restart` applies it."""
    body = rest().one_document(request, required=False)
    if not isinstance(body, dict):
        raise interop_services.Invalid(
            "The body must be a JSON object.", [{"path": "body", "message": "expected an object"}]
        )
    return interop_services.restart_preview(public_id, body.get("changes"), version)


@router.get(
    "/scenarios/{public_id}/metrics", response=ERRORS, summary="Kubelet metrics", openapi_extra=METRICS_OK
)
def scenario_metrics(request: HttpRequest, public_id: str, version: int | None = None) -> HttpResponse:
    """The kubelet's Memory and Topology Manager metrics for this scenario (Prometheus text format), counted
    by the kubelet's rules, plus per-NUMA gauges of the machine state; `version` reads a past state."""
    series, state = interop_services.scenario_metrics(public_id, version)
    return text_response(interop_services.kubelet_metrics_text(series, state), PROMETHEUS_TEXT)
