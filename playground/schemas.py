"""Request and response shapes of the REST API (docs/CONTRACTS.md section 3), for validation and OpenAPI.

Engine outputs (states, outcomes, explanations) are kept as plain JSON objects: their exact keys are
the vectors' format, owned by the allocator, and the API passes them through unchanged.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

JSONObject = dict[str, Any]


class ErrorItem(BaseModel):
    path: str = Field(description="JSON path of the problem, e.g. machine.numa_nodes[1].memory")
    message: str


class ErrorOut(BaseModel):
    model_config = ConfigDict(extra="allow")  # e.g. config_error: the kubelet's stage and texts

    detail: str = Field(description="A sentence a person understands")
    errors: list[ErrorItem] = Field(default_factory=list)


class ScenarioDocument(BaseModel):
    """The scenario format (spec/scenario-format.md); quantities as strings or integer bytes."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    machine: JSONObject
    kubelet: JSONObject | None = None
    steps: list[JSONObject] | None = None


class CreatedOut(BaseModel):
    id: str
    edit_token: str = Field(description="Shown only once; send it as 'Authorization: Bearer <token>' to edit")
    version: int
    state: JSONObject
    share_url: str
    outcomes: list[JSONObject]


class ForkedFrom(BaseModel):
    id: str
    version: int | None


class PodOut(BaseModel):
    name: str
    namespace: str
    uid: str
    status: Literal["Running", "Failed"]
    reason: str
    message: str
    admitted_version: int
    containers: dict[str, list[JSONObject]]
    pod: JSONObject


class Stopped(BaseModel):
    version: int
    reason: str


class ScenarioOut(BaseModel):
    id: str
    name: str
    version: int
    forked_from: ForkedFrom | None
    stopped: Stopped | None = Field(None, description="Set once the kubelet crashed or failed to start")
    created_at: str
    share_url: str
    machine: JSONObject
    kubelet: JSONObject
    initial_state: JSONObject
    state: JSONObject
    numa_groups: JSONObject
    pods: list[PodOut]


class AdmittedOut(BaseModel):
    version: int
    outcomes: list[JSONObject]


class RemovedOut(BaseModel):
    version: int
    outcome: JSONObject


class EventOut(BaseModel):
    version: int
    op: Literal["create", "admit", "remove", "restart"]
    pod_name: str | None
    pod_uid: str | None
    pod: JSONObject | None
    outcome: JSONObject
    explanation: JSONObject | None
    created_at: str


class EventsOut(BaseModel):
    events: list[EventOut]


class StateOut(BaseModel):
    version: int
    state: JSONObject
    numa_groups: JSONObject
    pods: list[PodOut]


class ForkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(
        None, ge=0, description="Fork the history up to this version (default: latest)"
    )
    name: str | None = Field(None, min_length=1, max_length=200)


class RestartIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    changes: JSONObject | None = Field(None, description="restart/README.md: machine, reserved_memory, ...")


class AccessOut(BaseModel):
    can_edit: bool = Field(description="Whether the Bearer token sent is this scenario's edit token")


class HealthOut(BaseModel):
    status: Literal["ok"]
    database: str
    channel_layer: str
