"""The service layer: the only code that touches both the allocator engine and the database.

The REST API (``api``), the websocket consumer (``consumers``) and the pages (``views``) call these
functions and nothing below them. Signatures are stable; each docstring says what it returns and
which ``ServiceError`` it raises (``status`` is the HTTP status the API answers with).

How a write works (``admit_pods``, ``remove_pod``, ``restart``):

1. check the edit token (constant-time compare of sha256 hashes);
2. validate the input outside any lock;
3. queue for the scenario in this process; the first writer to hold its lock (SQLite's writer queue,
   or the scenario's stripe on PostgreSQL) takes every request queued for it (group commit, see
   ``write``) and, in one transaction, locks the scenario row (``SELECT ... FOR UPDATE`` on
   PostgreSQL; SQLite runs every transaction as ``BEGIN IMMEDIATE``, which takes the database write
   lock), takes the engine (warm in this process at the current version, or caught up with the steps
   another process stored since, else the latest snapshot plus the few events after it), applies each
   request's steps in a savepoint of its own, appends one event per step with ``version + 1``,
   updates the pods and the small read model, and keeps a snapshot every ``SNAPSHOT_EVERY`` versions;
4. after commit, broadcast each event to the channel group ``scenario.<id>``, in version order, and
   answer each request of the group.

A rejected request raises before anything is written, so it changes nothing stored.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, models, transaction
from django.db.models.signals import post_save
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from allocator import ConfigError, InputError, MemoryManager, parse_pod, parse_scenario
from playground import fastjson
from playground.models import FULL_OUTCOME, Event, Pod, Scenario, ScenarioSnapshot

logger = logging.getLogger(__name__)

# Keep a full engine snapshot every this many versions, so a past state replays at most this many steps.
SNAPSHOT_EVERY = 32
# A snapshot grows with the running pods (about 5 ms to build and 350 kB at 1,000 pods, 23 ms at 3,000,
# against 0.2-0.3 ms for one step), so a big scenario keeps one less often: the interval doubles while
# it is below running pods / SNAPSHOT_PODS_PER_VERSION, up to SNAPSHOT_EVERY_MAX. Rebuilding a version
# then replays more steps, in proportion to what loading the snapshot costs anyway.
SNAPSHOT_PODS_PER_VERSION = 8
SNAPSHOT_EVERY_MAX = 1024
# Engines kept warm in this process, keyed by scenario id; a version check makes them safe across processes.
ENGINE_CACHE_SIZE = 64
# A pod is deleted by name in a URL path, so no '/' (nor control characters); at most 253 characters,
# as in Kubernetes. Stricter DNS rules are the API server's, not the kubelet's: the vectors use "fakePod1".
POD_NAME = re.compile(r"^[^/\x00-\x1f\x7f]{1,253}$")


# --- errors -------------------------------------------------------------------------------------


class ServiceError(Exception):
    """A request the playground refuses; ``status`` is the HTTP status, ``errors`` name the fields."""

    status = 400

    def __init__(self, detail: str, errors: list[dict[str, str]] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        self.extra = extra

    def as_dict(self) -> dict[str, Any]:
        return {"detail": self.detail, "errors": self.errors, **self.extra}


class Unauthorized(ServiceError):
    status = 401


class Forbidden(ServiceError):
    status = 403


class NotFound(ServiceError):
    status = 404


class Conflict(ServiceError):
    status = 409


class TooLarge(ServiceError):
    status = 413


class Invalid(ServiceError):
    status = 422


def invalid_input(exc: InputError, detail: str = "The document is invalid.") -> Invalid:
    """An allocator InputError as a 422 naming the JSON path."""
    where = f" at {exc.path}" if exc.path else ""
    return Invalid(f"{detail} {exc.message}{where}.", [exc.as_dict()])


def config_refused(exc: ConfigError) -> Invalid:
    """A configuration the kubelet refuses to start with, as a 422 in the kubelet's own words."""
    return Invalid(
        f"The kubelet would refuse to start with this configuration: {exc.kubelet_error}",
        [{"path": exc.field, "message": exc.kubelet_error}],
        config_error=exc.as_dict(),
    )


# --- results ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Created:
    """``create_scenario`` / ``fork_scenario``: the new scenario and its edit token (shown only here)."""

    scenario: Scenario
    edit_token: str
    outcomes: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Applied:
    """A write: the version it reached and one outcome (and event) per step applied."""

    version: int
    outcomes: list[dict[str, Any]]
    events: list[dict[str, Any]]
    # Each outcome's two JSON texts as the event log stored them (the light outcome, and the checkpoint
    # or None): the answers reuse the bytes.
    encoded_light: list[bytes] = field(default_factory=list)
    encoded_checkpoints: list[bytes | None] = field(default_factory=list)

    @property
    def encoded(self) -> list[bytes]:
        """Each whole outcome's JSON, spliced from its two texts (only a full answer needs them)."""
        return [
            fastjson.join_outcome(light, checkpoint)
            for light, checkpoint in zip(self.encoded_light, self.encoded_checkpoints, strict=True)
        ]


# --- edit tokens --------------------------------------------------------------------------------


def new_edit_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def authorize(public_id: str, token: str | None) -> None:
    """Raises NotFound, Unauthorized (no token) or Forbidden (wrong token); reads only the token hash.

    Every write checks the token again against its locked row; this is for callers that want the
    token checked before they read the request body.
    """
    token_hash = (
        Scenario.objects.filter(public_id=public_id).values_list("edit_token_hash", flat=True).first()
    )
    if token_hash is None:
        raise NotFound(f"There is no scenario {public_id!r}.")
    check_token_hash(token_hash, token)


def check_token_hash(token_hash: str, token: str | None) -> None:
    """Raises Unauthorized (no token) or Forbidden (a token whose hash differs; constant-time)."""
    if not token:
        raise Unauthorized(
            "This change needs the scenario's edit token: send 'Authorization: Bearer <token>'."
        )
    if not hmac.compare_digest(hash_token(token), token_hash):
        raise Forbidden("The edit token does not match this scenario.")


def can_edit(scenario: Scenario, token: str | None) -> bool:
    """Whether ``token`` is this scenario's edit token (constant-time; only hashes are compared)."""
    if not token:
        return False
    return hmac.compare_digest(hash_token(token), scenario.edit_token_hash)


def check_edit_token(scenario: Scenario, token: str | None) -> None:
    """Raises Unauthorized (no token) or Forbidden (wrong token)."""
    check_token_hash(scenario.edit_token_hash, token)


# --- reading ------------------------------------------------------------------------------------


def get_scenario(public_id: str) -> Scenario:
    """The scenario with this public id; raises NotFound."""
    try:
        return Scenario.objects.select_related("forked_from").get(public_id=public_id)
    except Scenario.DoesNotExist:
        raise NotFound(f"There is no scenario {public_id!r}.") from None


def share_path(public_id: str) -> str:
    """The page that shows a scenario (owned by the pages); a stable fallback if it is not routed yet."""
    try:
        return reverse("scenario", kwargs={"public_id": public_id})
    except NoReverseMatch:
        return f"/s/{public_id}/"


def pod_view(pod: Pod, assignments: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": pod.name,
        "namespace": pod.namespace,
        "uid": pod.uid,
        "status": pod.status,
        "reason": pod.reason,
        "message": pod.message,
        "admitted_version": pod.admitted_version,
        # Rejected pods can hold partial blocks until the next admission cleans them (vectors quirk 4).
        "containers": assignments.get(pod.uid, {}),
        "pod": pod.spec,
    }


def scenario_view(
    scenario: Scenario, base_url: str = "", pods: Iterable[Pod] | None = None
) -> dict[str, Any]:
    """The scenario as the API, the websocket and the pages show it (docs/CONTRACTS.md section 3)."""
    if pods is None:
        pods = scenario.pods.all()
    source = scenario.forked_from
    assignments = current_assignments(scenario)
    return {
        "id": scenario.public_id,
        "name": scenario.name,
        "version": scenario.version,
        "forked_from": (
            {"id": source.public_id, "version": scenario.forked_from_version} if source is not None else None
        ),
        "created_at": scenario.created_at.isoformat(),
        "share_url": base_url + share_path(scenario.public_id),
        "machine": scenario.machine_view,
        "kubelet": scenario.kubelet_view,
        "initial_state": scenario.initial_state,
        # null, or {"version", "reason"}: the kubelet crashed or failed to start; writes are refused.
        "stopped": scenario.stopped,
        "state": scenario.state,
        "numa_groups": scenario.numa_groups,
        "pods": [pod_view(pod, assignments) for pod in pods],
    }


# The part of an outcome that grows with the pods: the whole checkpoint, one entry per running pod.
# A light outcome leaves it out; the latest one is in /state (``pods[].containers``) and the export.
# The event log stores it apart (``Event.checkpoint``): a light read never reads it.
HEAVY_OUTCOME_KEY = fastjson.CHECKPOINT_KEY


def light_outcome(outcome: dict[str, Any]) -> dict[str, Any]:
    """An outcome without its checkpoint (every other key as the replay gives it)."""
    return {key: value for key, value in outcome.items() if key != HEAVY_OUTCOME_KEY}


def event_view(event: Event, light: bool = False) -> dict[str, Any]:
    """One event of the log (docs/CONTRACTS.md section 3); ``light``: its outcome without the checkpoint."""
    return {
        "version": event.version,
        "op": event.op,
        "pod_name": event.pod_name or None,
        "pod_uid": event.pod_uid or None,
        "pod": event.step.get("pod"),
        "outcome": event.outcome if light else event.full_outcome(),
        "explanation": event.explanation,
        "created_at": event.created_at.isoformat(),
    }


def events_after(
    public_id: str, after: int = -1, limit: int = 1000, light: bool = False
) -> list[dict[str, Any]]:
    """Events with ``version > after``, oldest first, at most ``limit``; raises NotFound.

    ``light``: outcomes without their checkpoint (``light_outcome``), so a long timeline loads quickly.
    """
    scenario = get_scenario(public_id)
    rows = scenario.events.filter(version__gt=after).order_by("version")
    if light:
        # The stored outcome is the light one: the checkpoint column is not even read.
        return [event_view(event, light=True) for event in rows.defer("checkpoint")[:limit]]
    return [event_view(event) for event in rows[:limit]]


def state_at(public_id: str, version: int | None = None) -> dict[str, Any]:
    """``{"version", "state", "numa_groups", "pods"}`` at ``version`` (default: the latest).

    The latest version is read from the cache; an older one is replayed from the nearest stored
    snapshot. Raises NotFound for an unknown scenario or a version it has not reached.
    """
    scenario = get_scenario(public_id)
    if version is None or version == scenario.version:
        assignments = current_assignments(scenario)
        pods = [pod_view(pod, assignments) for pod in scenario.pods.all()]
        return {
            "version": scenario.version,
            "state": scenario.state,
            "numa_groups": scenario.numa_groups,
            "pods": pods,
        }
    if version < 0 or version > scenario.version:
        raise NotFound(f"Scenario {public_id!r} has versions 0 to {scenario.version}, not {version}.")
    mm = engine_at(scenario, version)
    events = list(
        scenario.events.filter(version__gte=1, version__lte=version).order_by("version").defer("checkpoint")
    )
    assignments = assignments_view(mm)
    pods = [pod_view(pod, assignments) for pod in pods_from_events(events, mm)]
    return {"version": version, "state": mm.state(), "numa_groups": mm.numa_groups(), "pods": pods}


def export_scenario(public_id: str, with_expect: bool = True) -> dict[str, Any]:
    """The scenario document with every step, which ``python -m allocator replay`` reproduces.

    Machine and kubelet sections are exactly as submitted; with ``with_expect`` every step carries
    the stored outcome as ``expect`` so ``replay --check`` verifies it.
    """
    scenario = get_scenario(public_id)
    steps = []
    for event in scenario.events.filter(version__gte=1).order_by("version"):
        step = dict(event.step)
        if with_expect:
            step["expect"] = event.full_outcome()
        steps.append(step)
    return {
        "name": scenario.name,
        "machine": scenario.machine,
        "kubelet": scenario.kubelet,
        "initial_state": scenario.initial_state,
        "steps": steps,
    }


# --- the engine ---------------------------------------------------------------------------------


def base_document(document: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": document.get("name", ""),
        "machine": document.get("machine"),
        "kubelet": document.get("kubelet"),
        "steps": [],
    }


def new_engine(document: dict[str, Any]) -> tuple[Any, MemoryManager]:
    """Parse a scenario's machine and kubelet and start the engine; raises Invalid (422)."""
    try:
        parsed = parse_scenario(base_document(document))
        return parsed, MemoryManager.from_scenario(parsed)
    except InputError as exc:
        raise invalid_input(exc) from None
    except ConfigError as exc:
        raise config_refused(exc) from None


def engine_at(scenario: Scenario, version: int) -> MemoryManager:
    """The engine after ``version``: the nearest snapshot at or before it, then replay the rest."""
    stored = scenario.snapshots.filter(version__lte=version).order_by("-version").first()
    if stored is not None:
        mm, start = MemoryManager.from_snapshot(stored.snapshot), stored.version
    else:
        mm, start = new_engine({"machine": scenario.machine, "kubelet": scenario.kubelet})[1], 0
    for event in scenario.events.filter(version__gt=start, version__lte=version).order_by("version"):
        mm.apply(event.step)
    return mm


def assignments_from_checkpoint(checkpoint: dict[str, Any]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Checkpoint entries (``numaAffinity``) as the view's blocks (``numa_affinity``)."""
    return {
        uid: {name: [block_view(block) for block in blocks] for name, blocks in containers.items()}
        for uid, containers in checkpoint.get("entries", {}).items()
    }


def current_assignments(scenario: Scenario) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Every pod's blocks after the latest version: the checkpoint the latest step left behind."""
    if scenario.version == 0 and scenario.forked_from_id is None:
        return {}  # a kubelet that has admitted nothing
    text = scenario.events.filter(version=scenario.version).values_list("checkpoint", flat=True).first()
    checkpoint = fastjson.loads(text) if text is not None else None
    if isinstance(checkpoint, dict):
        return assignments_from_checkpoint(checkpoint)
    # A step without a checkpoint (the kubelet would have crashed): ask the engine.
    return assignments_view(engine_at(scenario, scenario.version))


class EngineCache:
    """Warm engines of this process: ``take`` hands one out only if it is at the scenario's version.

    A writer takes the engine while it holds the scenario's write lock and gives it back only after
    its transaction committed, so a rolled-back write never leaves a half-applied engine behind.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.engines: OrderedDict[str, tuple[int, MemoryManager]] = OrderedDict()

    def take(self, public_id: str, version: int) -> MemoryManager | None:
        cached = self.take_latest(public_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        return None

    def take_latest(self, public_id: str) -> tuple[int, MemoryManager] | None:
        """The engine kept for ``public_id`` and the version it is at, whatever that version is."""
        with self.lock:
            return self.engines.pop(public_id, None)

    def put(self, public_id: str, version: int, mm: MemoryManager) -> None:
        with self.lock:
            self.engines[public_id] = (version, mm)
            self.engines.move_to_end(public_id)
            while len(self.engines) > self.size:
                self.engines.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.engines.clear()


engines = EngineCache(ENGINE_CACHE_SIZE)


# A warm engine this many versions behind (another process wrote them) is caught up step by step;
# further behind, the latest snapshot plus the events after it is cheaper.
CATCH_UP_LIMIT = 2 * SNAPSHOT_EVERY


def load_engine(scenario: Scenario) -> MemoryManager:
    """The engine at the scenario's current version: warm from this process (caught up with the steps
    other processes stored since, if any), else from storage."""
    cached = engines.take_latest(scenario.public_id)
    if cached is not None:
        version, mm = cached
        if version == scenario.version:
            return mm
        if version < scenario.version <= version + CATCH_UP_LIMIT:
            caught_up = catch_up(scenario, mm, version)
            if caught_up is not None:
                return caught_up
    return engine_at(scenario, scenario.version)


def catch_up(scenario: Scenario, mm: MemoryManager, version: int) -> MemoryManager | None:
    """``mm`` (at ``version``) after the events stored since, or None if anything is off.

    Replay is deterministic, so applying the stored steps gives the engine the other process had; each
    step's outcome is checked against the stored one (the light outcome: the checkpoint is not read),
    and any difference, gap or error sends the caller back to the snapshot.
    """
    rows = list(
        scenario.events.filter(version__gt=version, version__lte=scenario.version)
        .order_by("version")
        .values_list("version", "step", "outcome")
    )
    if [row[0] for row in rows] != list(range(version + 1, scenario.version + 1)):
        return None
    try:
        for _, step, stored in rows:
            if light_outcome(mm.apply(step).result) != stored:
                return None
    except Exception:
        logger.warning(
            "catching up the engine of %s failed; rebuilding it", scenario.public_id, exc_info=True
        )
        return None
    return mm


def block_view(block: dict[str, Any]) -> dict[str, Any]:
    """A block as the scenario view shows it: ``numa_affinity``, ``type``, ``size`` (vectors' casing)."""
    affinity = block["numa_affinity"] if "numa_affinity" in block else block.get("numaAffinity")
    return {"numa_affinity": affinity, "type": block["type"], "size": block["size"]}


def assignments_view(mm: MemoryManager) -> dict[str, dict[str, list[dict[str, Any]]]]:
    # The engine may name the affinity as the checkpoint does (numaAffinity); the view uses snake_case.
    return {
        uid: {name: [block_view(block) for block in blocks] for name, blocks in containers.items()}
        for uid, containers in mm.assignments().items()
    }


def store_engine(scenario: Scenario, mm: MemoryManager, previous_version: int) -> None:
    """Refresh the small read model on the (locked) scenario row; keep a snapshot now and then.

    A snapshot is kept whenever a write crosses a multiple of the snapshot interval, so loading any version
    replays at most about that many steps, and the big snapshot is not rewritten on every write. The
    intervals are powers of two times SNAPSHOT_EVERY: a multiple of a longer one is a multiple of every
    shorter one, so a scenario whose interval grows or shrinks still replays at most its current interval.
    """
    scenario.state = mm.state()
    scenario.numa_groups = mm.numa_groups()
    every = snapshot_interval(len(mm.memory_state.assignments))
    if scenario.version // every > previous_version // every:
        keep_snapshot(scenario, mm)


def snapshot_interval(running_pods: int) -> int:
    """Versions between snapshots for a scenario with ``running_pods`` pods holding memory."""
    every = SNAPSHOT_EVERY
    while every < SNAPSHOT_EVERY_MAX and every * SNAPSHOT_PODS_PER_VERSION < running_pods:
        every *= 2
    return every


def keep_snapshot(scenario: Scenario, mm: MemoryManager) -> None:
    """Store the engine at the scenario's version, replacing one kept there before (a fork's copy).

    One upsert with orjson: the snapshot grows with the pods and the ORM's encoder took ten times longer.
    """
    table = connection.ops.quote_name(ScenarioSnapshot._meta.db_table)
    snapshot = json_placeholder()
    sql = (
        f"INSERT INTO {table} (scenario_id, version, snapshot) VALUES (%s, %s, {snapshot}) "
        "ON CONFLICT (scenario_id, version) DO UPDATE SET snapshot = excluded.snapshot"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [scenario.pk, scenario.version, fastjson.dumps_str(mm.to_snapshot())])


# --- steps --------------------------------------------------------------------------------------


def pod_identity(pod: dict[str, Any]) -> tuple[str, str, str]:
    metadata = pod.get("metadata") or {}
    return metadata.get("name") or "", metadata.get("namespace") or "default", metadata.get("uid") or ""


def prepare_pod(pod: Any, path: str) -> dict[str, Any]:
    """Validate one pod document and give it a uid if it has none; raises Invalid."""
    if not isinstance(pod, dict):
        raise Invalid(
            f"The pod at {path} is not an object.", [{"path": path, "message": "expected an object"}]
        )
    metadata = pod.get("metadata")
    if isinstance(metadata, dict) and not metadata.get("uid"):
        # A copy: the caller's document stays as it was. The generated uid is stored in the event,
        # so a replay of the log uses the same one.
        pod = {**pod, "metadata": {**metadata, "uid": str(uuid.uuid4())}}
    try:
        parse_pod(pod, path)
    except InputError as exc:
        raise invalid_input(exc, "The pod is invalid.") from None
    name = pod_identity(pod)[0]
    if not POD_NAME.match(name):
        raise Invalid(
            "A pod needs metadata.name: 1 to 253 characters, no '/' and no control characters.",
            [
                {
                    "path": f"{path}.metadata.name",
                    "message": "required: 1 to 253 characters, no '/' or control characters",
                }
            ],
        )
    return pod


def prepare_step(step: Any, path: str) -> dict[str, Any]:
    """A scenario document's step as the engine gets it: outputs (``expect``, ``note``) dropped."""
    if not isinstance(step, dict):
        raise Invalid(
            f"The step at {path} is not an object.", [{"path": path, "message": "expected an object"}]
        )
    op = step.get("op")
    if op == "admit":
        return {"op": "admit", "pod": prepare_pod(step.get("pod"), f"{path}.pod")}
    if op == "remove":
        uid = step.get("pod_uid")
        if not isinstance(uid, str) or not uid:
            raise Invalid(
                "A remove step needs pod_uid.", [{"path": f"{path}.pod_uid", "message": "required"}]
            )
        return {"op": "remove", "pod_uid": uid}
    if op == "restart":
        changes = step.get("changes")
        prepared = {"op": "restart", "changes": changes} if changes is not None else {"op": "restart"}
        validate_restart(prepared, path)
        return prepared
    message = "expected one of admit, remove, restart"
    raise Invalid(f"Unknown op {op!r} at {path}.op.", [{"path": f"{path}.op", "message": message}])


# Any valid machine: only the restart step's own shape is checked against it.
_PROBE_MACHINE = {"numa_nodes": [{"id": 0, "memory": 1}]}


def validate_restart(step: dict[str, Any], path: str) -> None:
    """Check a restart step's ``changes`` with the scenario format's own rules; raises Invalid."""
    try:
        parse_scenario({"name": "probe", "machine": _PROBE_MACHINE, "steps": [step]})
    except InputError as exc:
        inner = exc.path.removeprefix("steps[0]") if exc.path.startswith("steps[0]") else ""
        where = f"{path}{inner}".lstrip(".") or "changes"
        raise invalid_input(InputError(where, exc.message), "The restart is invalid.") from None


def check_pod_is_new(scenario: Scenario, pod: dict[str, Any], path: str) -> None:
    """As the API server does: a pod name (and uid) can be used by one pod at a time; raises Conflict."""
    names, uids = names_in_use(scenario, [pod])
    check_identity_is_new(names, uids, pod, path)


def names_in_use(scenario: Scenario, pods: list[dict[str, Any]]) -> tuple[set[str], set[str]]:
    """The stored pods' names and uids among those of ``pods`` (one query, whatever their number)."""
    identities = [pod_identity(pod) for pod in pods]
    wanted_names = sorted({name for name, _, _ in identities})
    wanted_uids = sorted({uid for _, _, uid in identities})
    # Plain SQL, two index lookups (the name and uid unique constraints), instead of the ORM's OR.
    db = current_db()
    with db.cursor() as cursor:
        cursor.execute(
            names_sql(len(wanted_names), len(wanted_uids), db.vendor),
            [scenario.pk, *wanted_names, scenario.pk, *wanted_uids],
        )
        rows = cursor.fetchall()
    names: set[str] = set()
    uids: set[str] = set()
    for name, uid in rows:
        names.add(name)
        uids.add(uid)
    return names & set(wanted_names), uids & set(wanted_uids)


@functools.lru_cache(maxsize=256)
def names_sql(names: int, uids: int, vendor: str) -> str:
    table = current_db().ops.quote_name(Pod._meta.db_table)
    by_name = ", ".join(["%s"] * names)
    by_uid = ", ".join(["%s"] * uids)
    return (
        f"SELECT name, uid FROM {table} WHERE scenario_id = %s AND name IN ({by_name}) UNION ALL "
        f"SELECT name, uid FROM {table} WHERE scenario_id = %s AND uid IN ({by_uid})"
    )


def check_identity_is_new(names: set[str], uids: set[str], pod: dict[str, Any], path: str) -> None:
    """Raises Conflict if ``pod``'s name or uid is in use, else counts them as used from now on."""
    name, _, uid = pod_identity(pod)
    if name not in names and uid not in uids:
        names.add(name)
        uids.add(uid)
        return
    if name in names:
        raise Conflict(
            f"A pod named {name!r} already exists in this scenario; delete it first or choose another name.",
            [{"path": f"{path}.metadata.name", "message": "name in use"}],
        )
    raise Conflict(
        f"A pod with uid {uid!r} already exists in this scenario.",
        [{"path": f"{path}.metadata.uid", "message": "uid in use"}],
    )


# The kubelet configuration fields a restart may change (restart/README.md).
KUBELET_CHANGES = (
    "reserved_memory",
    "node_allocatable_reservation",
    "memory_manager_policy",
    "topology_manager_policy",
    "topology_manager_scope",
    "topology_manager_policy_options",
)


def apply_config_changes(scenario: Scenario, changes: dict[str, Any] | None) -> None:
    """A restart's changes persist for every later step: the views show the machine and kubelet in force.

    The document's own ``machine``/``kubelet`` stay as submitted: the export replays the restart step.
    """
    if not changes or not any(key in changes for key in ("machine", *KUBELET_CHANGES)):
        return
    machine = changes.get("machine", scenario.machine_view)
    kubelet = {**scenario.kubelet_view, **{key: changes[key] for key in KUBELET_CHANGES if key in changes}}
    try:
        parsed = parse_scenario({"name": scenario.name, "machine": machine, "kubelet": kubelet})
    except InputError:
        return  # the engine accepted the step; a view that cannot be rebuilt stays as it was
    scenario.machine_view, scenario.kubelet_view = normalised_views(parsed)


def stop_reason(op: str, outcome: dict[str, Any]) -> str | None:
    """Why the kubelet is down after this step, if it is: it crashed, or a restart failed to start it.

    ``python -m allocator replay`` stops at such a step, so the playground takes no further step either:
    the export of any scenario replays exactly.
    """
    if "panic" in outcome:
        return f"the kubelet would crash here: {outcome['panic']}"
    if op == "restart" and outcome.get("started") is False:
        return f"the kubelet failed to start ({outcome.get('stage')}): {outcome.get('error')}"
    return None


def check_running(scenario: Scenario, path: str) -> None:
    if scenario.stopped:
        raise Conflict(
            f"The kubelet stopped at version {scenario.stopped['version']}: {scenario.stopped['reason']}. "
            "Fork the scenario at an earlier version to go on.",
            [{"path": path, "message": "the kubelet is not running"}],
        )


def run_step(scenario: Scenario, mm: MemoryManager, step: dict[str, Any], path: str) -> Event:
    """Apply one prepared step to the engine; the event it produced, not yet stored (inside the lock).

    Mirrors nothing in the kubelet: this is the playground's bookkeeping around ``MemoryManager.apply``.
    The scenario row's version, ``stopped`` and configuration views follow the step in memory; the
    caller stores the event (``store_events``) and the pods (``store_pods``) before it commits.
    """
    check_running(scenario, path)
    # From here the engine may change: a request of a group that fails now needs a fresh one.
    scenario.__dict__[ENGINE_TOUCHED] = True
    try:
        outcome = mm.apply(step)
    except InputError as exc:
        raise invalid_input(exc, "The step is invalid.") from None
    except ConfigError as exc:
        raise config_refused(exc) from None
    scenario.version += 1
    name, namespace, uid = (
        pod_identity(step["pod"]) if step["op"] == "admit" else ("", "", step.get("pod_uid", ""))
    )
    if step["op"] == "remove":
        removed = scenario.pods.filter(uid=uid).values_list("name", "namespace").first()
        name, namespace = removed if removed else ("", "")
    event = Event(
        scenario=scenario,
        version=scenario.version,
        op=step["op"],
        pod_name=name,
        pod_namespace=namespace,
        pod_uid=uid,
        step=step,
        outcome=light_outcome(outcome.result),
        explanation=outcome.explanation,
        created_at=timezone.now(),
    )
    # Encoded once, for the event log and the answer (an admission's checkpoint grows with the pods):
    # the light outcome and the checkpoint, stored in their columns and spliced for the answer.
    light_json, checkpoint_json = fastjson.encode_parts(outcome.result, scenario.public_id)
    event.outcome_json = light_json  # type: ignore[attr-defined]
    event.checkpoint_json = checkpoint_json  # type: ignore[attr-defined]
    event.checkpoint = None if checkpoint_json is None else checkpoint_json.decode("utf-8")
    # The engine's outcome itself, for the answer and the broadcast (``Event.full_outcome``).
    event.__dict__[FULL_OUTCOME] = outcome.result
    if step["op"] == "restart":
        apply_config_changes(scenario, step.get("changes"))
    if (reason := stop_reason(step["op"], outcome.result)) is not None:
        scenario.stopped = {"version": scenario.version, "reason": reason}
    return event


def apply_step(scenario: Scenario, mm: MemoryManager, step: dict[str, Any], path: str) -> Event:
    """Apply one prepared step, append its event and update the pods (inside the lock)."""
    event = run_step(scenario, mm, step, path)
    store_events([event])
    update_pods(scenario, mm, event)
    return event


# --- the hot path's SQL -------------------------------------------------------------------------
# An admission stores three rows' worth of JSON, one of them the whole checkpoint. The ORM's save()
# costs more than the engine (signals, per-field preparation, the standard json encoder), so the
# write path inserts and updates with plain SQL: one statement per table and request, JSON encoded
# with orjson. Reads still go through the ORM, which decodes these columns as it always did.


def json_placeholder(db: Any = None) -> str:
    # PostgreSQL: the text parameter becomes jsonb explicitly, whatever the driver's binding mode.
    return "CAST(%s AS jsonb)" if (db or connection).vendor == "postgresql" else "%s"


def current_db() -> Any:
    """This thread's default connection. ``django.db.connection`` is a proxy that looks the connection
    up (through asgiref's context-aware local) on every attribute: the hot path looks it up once."""
    return connections[DEFAULT_DB_ALIAS]


def column_value(field: models.Field[Any, Any], value: Any, db: Any = None) -> Any:
    """One field's value as the database takes it (JSON encoded by orjson; SQL NULL for None)."""
    if isinstance(field, models.JSONField):
        if isinstance(value, EncodedJSON):
            return value.text
        return None if value is None else fastjson.dumps_str(value)
    if isinstance(field, models.DateTimeField):
        return (db or connection).ops.adapt_datetimefield_value(value)
    return value


@functools.cache
def insert_sql(model: type[models.Model], attnames: tuple[str, ...], vendor: str) -> str:
    db = current_db()
    fields = [model._meta.get_field(name) for name in attnames]
    columns = ", ".join(db.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(
        json_placeholder(db) if isinstance(field, models.JSONField) else "%s" for field in fields
    )
    return f"INSERT INTO {db.ops.quote_name(model._meta.db_table)} ({columns}) VALUES ({placeholders})"


def insert_rows(model: type[models.Model], attnames: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """INSERT ``rows`` (values in ``attnames`` order) into ``model``'s table with one executemany."""
    if not rows:
        return
    db = current_db()
    fields = [model._meta.get_field(name) for name in attnames]
    params = [tuple(column_value(f, v, db) for f, v in zip(fields, row, strict=True)) for row in rows]
    with db.cursor() as cursor:
        cursor.executemany(insert_sql(model, attnames, db.vendor), params)


EVENT_COLUMNS = (
    "scenario_id", "version", "op", "pod_name", "pod_namespace", "pod_uid",
    "step", "outcome", "checkpoint", "explanation", "created_at",
)  # fmt: skip
POD_COLUMNS = (
    "scenario_id", "name", "namespace", "uid", "status", "reason", "message", "admitted_version", "spec",
)  # fmt: skip


def saved(instances: list[Any], created: bool, update_fields: list[str] | None = None) -> None:
    """What ``Model.save()`` tells the rest of the site (``post_save``: the server metrics count events).

    The objects keep no primary key: nothing on the write path reads it back.
    """
    for instance in instances:
        instance._state.adding = False
        instance._state.db = DEFAULT_DB_ALIAS
        post_save.send(
            sender=type(instance),
            instance=instance,
            created=created,
            update_fields=frozenset(update_fields) if update_fields else None,
            raw=False,
            using=DEFAULT_DB_ALIAS,
        )


class EncodedJSON:
    """A JSON column's value already encoded (``run_step`` encodes each outcome once)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


def event_row(event: Event) -> tuple[Any, ...]:
    encoded = getattr(event, "outcome_json", None)
    return tuple(
        EncodedJSON(encoded.decode("utf-8"))
        if name == "outcome" and encoded is not None
        else getattr(event, name)
        for name in EVENT_COLUMNS
    )


def store_events(events: list[Event]) -> None:
    """Append events to the log (one statement); they stay unsaved objects, read back by version."""
    insert_rows(Event, EVENT_COLUMNS, [event_row(event) for event in events])
    saved(events, created=True)


def store_pods(pods: list[Pod]) -> None:
    insert_rows(Pod, POD_COLUMNS, [tuple(getattr(pod, name) for name in POD_COLUMNS) for pod in pods])
    saved(pods, created=True)


def update_scenario(scenario: Scenario, attnames: list[str]) -> None:
    """UPDATE the locked scenario row's ``attnames`` (``updated_at`` always), as ``save(update_fields)``."""
    scenario.updated_at = timezone.now()
    db = current_db()
    fields = [Scenario._meta.get_field(name) for name in [*attnames, "updated_at"]]
    params = [column_value(field, getattr(scenario, field.attname), db) for field in fields]
    with db.cursor() as cursor:
        cursor.execute(update_sql((*attnames, "updated_at"), db.vendor), [*params, scenario.pk])
    saved([scenario], created=False, update_fields=[*attnames, "updated_at"])


@functools.cache
def update_sql(attnames: tuple[str, ...], vendor: str) -> str:
    db = current_db()
    fields = [Scenario._meta.get_field(name) for name in attnames]
    assignments = ", ".join(
        f"{db.ops.quote_name(field.column)} = "
        + (json_placeholder(db) if isinstance(field, models.JSONField) else "%s")
        for field in fields
    )
    return f"UPDATE {db.ops.quote_name(Scenario._meta.db_table)} SET {assignments} WHERE id = %s"


def pod_status(outcome: dict[str, Any]) -> tuple[str, str, str]:
    """(status, reason, message) of an admitted or rejected pod, as the kubelet reports it."""
    if "panic" in outcome:
        # The real kubelet crashes here (an upstream bug); the playground reports it instead.
        return Pod.FAILED, "KubeletPanic", str(outcome["panic"])
    if outcome.get("admitted"):
        return Pod.RUNNING, "", ""
    return Pod.FAILED, str(outcome.get("reason", "")), str(outcome.get("message", ""))


def admitted_pod_fields(event: Event) -> dict[str, Any]:
    """The pod an admit event leaves behind, field by field (POD_COLUMNS' order, without the scenario):
    Running, or Failed with the kubelet's words."""
    status, reason, message = pod_status(event.outcome)
    return {
        "name": event.pod_name,
        "namespace": event.pod_namespace,
        "uid": event.pod_uid,
        "status": status,
        "reason": reason,
        "message": message,
        "admitted_version": event.version,
        "spec": event.step["pod"],
    }


def admitted_pod(scenario: Scenario, event: Event) -> Pod:
    """The pod an admit event leaves behind (unsaved)."""
    return Pod(scenario=scenario, **admitted_pod_fields(event))


def store_admitted_pods(scenario: Scenario, events: list[Event]) -> None:
    """``store_pods`` of the pods ``events`` admitted. Without a ``post_save`` receiver for pods (the
    site has none), the rows are written straight from the events, without a Pod object each."""
    if post_save.has_listeners(Pod):
        store_pods([admitted_pod(scenario, event) for event in events])
        return
    rows = [(scenario.pk, *admitted_pod_fields(event).values()) for event in events]
    insert_rows(Pod, POD_COLUMNS, rows)


def update_pods(scenario: Scenario, mm: MemoryManager, event: Event) -> None:
    if event.op == "admit":
        store_pods([admitted_pod(scenario, event)])
    elif event.op == "remove":
        scenario.pods.filter(uid=event.pod_uid).delete()
    elif event.op == "restart":
        # Pods left out of the restart's active set were deleted while the kubelet was down.
        active = {pod_identity(pod)[2] for pod in mm.active_pods()}
        scenario.pods.filter(status=Pod.RUNNING).exclude(uid__in=active).delete()


def pods_from_events(events: Iterable[Event], mm: MemoryManager) -> list[Pod]:
    """The pods after ``events`` (unsaved rows), given the engine after them; mirrors ``update_pods``."""
    pods: dict[str, Pod] = {}
    for event in events:
        if event.op == "admit":
            pods[event.pod_uid] = Pod(**admitted_pod_fields(event))
        elif event.op == "remove":
            pods.pop(event.pod_uid, None)
        elif event.op == "restart":
            active = {pod_identity(pod)[2] for pod in mm.active_pods()}
            pods = {uid: pod for uid, pod in pods.items() if pod.status != Pod.RUNNING or uid in active}
    return list(pods.values())


# --- writing ------------------------------------------------------------------------------------


# The read-model fields a write replaces; it never needs to read them.
CACHED_FIELDS = ("state", "numa_groups", "stopped")
CONFIG_VIEWS = ("machine_view", "kubelet_view")


# The scenario fields a write reads; the others stay deferred (a restart loads the configuration views).
LOCKED_FIELDS = ("id", "public_id", "version", "edit_token_hash", "stopped")


def lock_scenario(public_id: str) -> Scenario:
    """The scenario row, locked for this transaction (FOR UPDATE on PostgreSQL; on SQLite the
    transaction's BEGIN IMMEDIATE already holds the database's write lock). Raises NotFound.

    Plain SQL: the same statement as ``select_for_update().only(...).get()`` without building it.
    """
    db = current_db()
    fields = locked_fields()
    with db.cursor() as cursor:
        cursor.execute(lock_sql(db.vendor), [public_id])
        row = cursor.fetchone()
    if row is None:
        raise NotFound(f"There is no scenario {public_id!r}.")
    values = [
        field.from_db_value(value, None, db) if isinstance(field, models.JSONField) else value
        for field, value in zip(fields, row, strict=True)
    ]
    return Scenario.from_db(DEFAULT_DB_ALIAS, [field.attname for field in fields], values)


@functools.cache
def locked_fields() -> list[models.Field[Any, Any]]:
    # In the model's field order, as Model.from_db expects the values of a partial row.
    return [field for field in Scenario._meta.concrete_fields if field.attname in LOCKED_FIELDS]


@functools.cache
def lock_sql(vendor: str) -> str:
    db = current_db()
    columns = ", ".join(db.ops.quote_name(field.column) for field in locked_fields())
    table = db.ops.quote_name(Scenario._meta.db_table)
    lock = " FOR UPDATE" if db.features.has_select_for_update else ""
    return f"SELECT {columns} FROM {table} WHERE public_id = %s{lock}"


def check_event_limit(scenario: Scenario, adding: int) -> None:
    limit = settings.PLAYGROUND_MAX_EVENTS
    if scenario.version + adding > limit:
        raise TooLarge(f"A scenario holds at most {limit} events; fork it at an earlier version to go on.")


def broadcast(public_id: str, events: list[dict[str, Any]]) -> None:
    """Send each event to the websocket group; never fails the write.

    Each message is the small, already encoded websocket text of ``fanout.group_message`` (the event
    and a delta of the view); only a step without a delta leaves the scenario view to the consumers.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer) and not layer.groups.get(group_name(public_id)):
        # Nobody watches this scenario in this process (the in-memory layer is this process's only):
        # nothing to build or send. A viewer that joins later starts from a snapshot.
        return
    try:
        from playground import fanout  # imported here: fanout builds on this module

        messages = [fanout.group_message(public_id, event) for event in events]
        async_to_sync(group_send_all)(layer, group_name(public_id), messages)
    except Exception:
        # The write is committed; viewers catch up with a resync or the events endpoint.
        logger.exception("broadcast to scenario %s failed", public_id)


async def group_send_all(layer: Any, group: str, messages: list[dict[str, Any]]) -> None:
    """Several messages in order, with one crossing from the request thread to the event loop.

    A write of several versions (a batch of pods, a group commit) goes as ONE channel-layer message,
    ``{"type": "scenario.events", "messages": [...]}``: with Redis, one delivery per process instead of
    one per version, and each process's hub gets them together and sends them to its sockets as one
    batch frame (docs/CONTRACTS.md section 4).
    """
    if len(messages) == 1:
        await layer.group_send(group, messages[0])
    elif messages:
        await layer.group_send(group, {"type": "scenario.events", "messages": messages})


def group_name(public_id: str) -> str:
    return f"scenario.{public_id}"


# SQLite has one write lock for the whole database, and a writer that finds it taken polls for it
# (sqlite3's busy handler sleeps 1, 2, 5, 10 ... 100 ms between tries), so concurrent writers of one
# process spent most of their time asleep while the lock was free. Queueing them on a lock of the
# process hands the database over at once; writers of other processes still wait in SQLite.
_sqlite_writers = threading.Lock()
# PostgreSQL locks the scenario's row; the writers of one process to one scenario queue here first,
# so that the one holding the lock can take the others' requests into its transaction (group commit).
# Striped: a lock per scenario would have to be forgotten again; two scenarios sharing a stripe only
# take turns within this process.
WRITER_STRIPES = 64
_scenario_writers = [threading.Lock() for _ in range(WRITER_STRIPES)]


def _new_writer_locks_after_fork() -> None:
    # A child forked while a parent thread held a lock would otherwise wait for it forever.
    global _sqlite_writers, _scenario_writers, write_queue
    _sqlite_writers = threading.Lock()
    _scenario_writers = [threading.Lock() for _ in range(WRITER_STRIPES)]
    write_queue = WriteQueue()


def process_write_lock() -> contextlib.AbstractContextManager[Any]:
    """The process-wide writer queue on SQLite (PostgreSQL queues on the scenario's row lock instead).

    Not inside an outer transaction: that one already holds (or is about to take) the database's write
    lock, and waiting here for a thread that waits for it would deadlock.
    """
    if connection.vendor == "sqlite" and not connection.in_atomic_block:
        return _sqlite_writers
    return contextlib.nullcontext()


def group_leader_lock(public_id: str, vendor: str) -> contextlib.AbstractContextManager[Any]:
    """Who may write ``public_id`` now in this process: SQLite's queue, or the scenario's stripe."""
    if vendor == "sqlite":
        return _sqlite_writers
    return _scenario_writers[zlib.crc32(public_id.encode("utf-8", "surrogatepass")) % WRITER_STRIPES]


@dataclass(slots=True, eq=False)
class PendingWrite:
    """One request's write, queued until a leader applies it (its own thread, or another's group)."""

    token: str | None
    work: Callable[[Scenario, MemoryManager], list[Event]]
    adding: int
    applied: Applied | None = None
    error: BaseException | None = None
    done: bool = False

    def fail(self, error: BaseException) -> None:
        self.error, self.applied, self.done = error, None, True

    def result(self) -> Applied:
        if self.error is not None:
            raise self.error
        if self.applied is None:  # cannot happen: a leader finishes every request it takes
            raise RuntimeError("the write was never applied")
        return self.applied


class WriteQueue:
    """The writes of this process waiting for their scenario's lock, by scenario, in arrival order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pending: dict[str, list[PendingWrite]] = {}

    def add(self, public_id: str, request: PendingWrite) -> None:
        with self.lock:
            self.pending.setdefault(public_id, []).append(request)

    def drain(self, public_id: str, limit: int) -> list[PendingWrite]:
        """The first ``limit`` requests queued for ``public_id``, oldest first; the rest stay queued."""
        with self.lock:
            queued = self.pending.pop(public_id, [])
            if len(queued) > limit:
                self.pending[public_id] = queued[limit:]
            return queued[:limit]


write_queue = WriteQueue()
os.register_at_fork(after_in_child=_new_writer_locks_after_fork)

# Set on the scenario row's instance once a request's step reached the engine (``run_step``).
ENGINE_TOUCHED = "_engine_touched"
# At most this many requests share one transaction: a group's latency is the sum of its members'.
MAX_GROUP = 32


def write(
    public_id: str, token: str | None, work: Callable[[Scenario, MemoryManager], list[Event]], adding: int
) -> Applied:
    """Run ``work`` on the locked scenario and its engine; commit; then cache the engine and broadcast.

    Group commit: a request queues; the first to hold the scenario's lock of this process (SQLite's
    writer queue, or the scenario's stripe) applies every request queued for the scenario in ONE
    transaction, each in a savepoint of its own with its own versions, outcomes and errors (a refused
    request stores nothing and leaves the others as they were); the others find their answer ready.
    Only after COMMIT is any request answered. Inside a caller's transaction there is no queue.
    """
    request = PendingWrite(token, work, adding)
    db = current_db()
    if db.in_atomic_block:
        run_group(public_id, [request])
        return request.result()
    write_queue.add(public_id, request)
    while not request.done:
        with group_leader_lock(public_id, db.vendor):
            if request.done:
                break
            # Beyond MAX_GROUP, the rest stay queued for the next leader (one of them, once this group
            # is answered; this request too, if it is among them: hence the loop).
            group = write_queue.drain(public_id, MAX_GROUP)
            try:
                run_group(public_id, group)
            except BaseException as exc:
                for member in group:
                    if not member.done:
                        member.fail(exc)
    return request.result()


def run_group(public_id: str, group: list[PendingWrite]) -> None:
    """Apply ``group`` to the scenario in one transaction (see ``write``); marks each request done.

    A group of one is the plain write: any error rolls the transaction back and propagates.
    """
    isolated = len(group) > 1
    with transaction.atomic():
        scenario = lock_scenario(public_id)
        mm = load_engine(scenario)
        previous_version = scenario.version
        applied: list[tuple[PendingWrite, list[Event]]] = []
        for request in group:
            if not isolated:
                applied.append((request, apply_request(scenario, mm, request)))
                continue
            mm, events = apply_isolated(scenario, mm, request)
            if events is not None:
                applied.append((request, events))
        if not applied:
            return
        store_engine(scenario, mm, previous_version)
        # The configuration views are saved only when a restart loaded (and changed) them.
        changed = [field for field in CONFIG_VIEWS if field not in scenario.get_deferred_fields()]
        update_scenario(scenario, [*CACHED_FIELDS, *changed, "version"])
        version = scenario.version
        all_views: list[dict[str, Any]] = []
        for request, events in applied:
            views = [event_view(event) for event in events]
            all_views.extend(views)
            request.applied = Applied(
                version=events[-1].version,
                outcomes=[event.full_outcome() for event in events],
                events=views,
                encoded_light=[event.outcome_json for event in events],  # type: ignore[attr-defined]
                encoded_checkpoints=[event.checkpoint_json for event in events],  # type: ignore[attr-defined]
            )
        # robust: the write is committed whatever happens here; a failure is logged, not raised.
        transaction.on_commit(lambda: engines.put(public_id, version, mm), robust=True)
        transaction.on_commit(lambda: broadcast(public_id, all_views), robust=True)
    # Committed: now, and only now, are the requests answered.
    for request, _ in applied:
        request.done = True


def apply_request(scenario: Scenario, mm: MemoryManager, request: PendingWrite) -> list[Event]:
    """One request's checks and steps on the locked scenario (raises as the request's answer)."""
    check_token_hash(scenario.edit_token_hash, request.token)
    check_event_limit(scenario, request.adding)
    return request.work(scenario, mm)


def apply_isolated(
    scenario: Scenario, mm: MemoryManager, request: PendingWrite
) -> tuple[MemoryManager, list[Event] | None]:
    """``apply_request`` in a savepoint, for a request of a group: if it raises, the request fails with
    its error and the rows, the scenario row's fields and the engine are as before it (an engine rebuilt
    from this transaction's log if its steps reached it), so the group's other requests go on unharmed.
    Returns the engine to go on with and the request's events (None when it failed)."""
    scenario.__dict__.pop(ENGINE_TOUCHED, None)
    fields = dict(scenario.__dict__)
    try:
        with transaction.atomic():
            return mm, apply_request(scenario, mm, request)
    except Exception as exc:
        touched = scenario.__dict__.get(ENGINE_TOUCHED, False)
        scenario.__dict__.clear()
        scenario.__dict__.update(fields)
        request.fail(exc)
        return (engine_at(scenario, scenario.version) if touched else mm), None


def admit_pods(public_id: str, token: str | None, pods: list[Any], paths: list[str] | None = None) -> Applied:
    """Admit pods in order, one version each; ``paths`` name each pod in errors (default ``pods[i]``).

    Raises NotFound, Unauthorized, Forbidden, TooLarge (too many pods), Invalid (a malformed pod:
    nothing is admitted), Conflict (a name or uid in use, also within the batch: nothing is admitted).
    A pod the kubelet rejects is not an error: it is stored as Failed with the kubelet's reason.
    """
    paths = paths or [f"pods[{index}]" for index in range(len(pods))]
    if not pods:
        raise Invalid("No pod was submitted.", [{"path": "body", "message": "expected at least one pod"}])
    limit = settings.PLAYGROUND_MAX_PODS_PER_REQUEST
    if len(pods) > limit:
        raise TooLarge(f"At most {limit} pods can be submitted at once; {len(pods)} were sent.")
    prepared = [prepare_pod(pod, path) for pod, path in zip(pods, paths, strict=True)]

    def work(scenario: Scenario, mm: MemoryManager) -> list[Event]:
        # One query for every name and uid of the request; the batch's own pods join the set as they
        # are admitted, so a duplicate within the request is refused as one already stored would be.
        # Every identity is checked before the first step, so a refused request never reaches the engine.
        names, uids = names_in_use(scenario, prepared)
        for pod, path in zip(prepared, paths, strict=True):
            check_identity_is_new(names, uids, pod, path)
        events = [
            run_step(scenario, mm, {"op": "admit", "pod": pod}, path)
            for pod, path in zip(prepared, paths, strict=True)
        ]
        store_events(events)
        store_admitted_pods(scenario, events)
        return events

    return write(public_id, token, work, len(prepared))


def remove_pod(public_id: str, token: str | None, name: str) -> Applied:
    """Delete the pod named ``name`` (Running or Failed): the kubelet's remove step; one version.

    Raises NotFound (scenario or pod), Unauthorized, Forbidden.
    """

    def work(scenario: Scenario, mm: MemoryManager) -> list[Event]:
        pod = scenario.pods.filter(name=name).first()
        if pod is None:
            raise NotFound(
                f"There is no pod named {name!r} in this scenario.",
                [{"path": "name", "message": "no such pod"}],
            )
        return [apply_step(scenario, mm, {"op": "remove", "pod_uid": pod.uid}, "pod")]

    return write(public_id, token, work, 1)


def restart(public_id: str, token: str | None, changes: dict[str, Any] | None = None) -> Applied:
    """Restart the kubelet from its checkpoint, optionally with ``changes`` (restart/README.md); one version.

    The outcome says whether the kubelet started (a failed start is an outcome, not an error). Raises
    NotFound, Unauthorized, Forbidden, Invalid (malformed changes).
    """
    step = prepare_step({"op": "restart", "changes": changes}, "")

    def work(scenario: Scenario, mm: MemoryManager) -> list[Event]:
        return [apply_step(scenario, mm, step, "changes")]

    return write(public_id, token, work, 1)


def new_public_id() -> str:
    """Short, unguessable and URL-safe: 96 random bits."""
    return secrets.token_urlsafe(12)


def normalised_views(parsed: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Machine and kubelet in the scenario format with every quantity in bytes."""
    machine = parsed.machine.model_dump(mode="json")
    machine["numa_nodes"] = [
        {"id": node["id"], "memory": node["memory"], **node.get("hugepages", {})}
        for node in machine["numa_nodes"]
    ]
    kubelet = parsed.kubelet.model_dump(mode="json")
    if "eviction_hard" not in parsed.kubelet.model_fields_set:
        # Unset means the kubelet's default threshold (memory.available 100Mi); an explicit {} means
        # none at all. The view keeps the difference, so a document made from it means the same.
        kubelet.pop("eviction_hard", None)
    return machine, kubelet


def new_scenario_row(document: dict[str, Any], parsed: Any, mm: MemoryManager, token: str) -> Scenario:
    machine_view, kubelet_view = normalised_views(parsed)
    return Scenario(
        public_id=new_public_id(),
        name=parsed.name or "Untitled scenario",
        machine=document["machine"],
        kubelet=document.get("kubelet") or {},
        machine_view=machine_view,
        kubelet_view=kubelet_view,
        initial_state=mm.initial_state(),
        edit_token_hash=hash_token(token),
        version=0,
        state=mm.state(),
        numa_groups=mm.numa_groups(),
    )


def create_scenario(document: Any) -> Created:
    """Create a scenario from a document (``name``, ``machine``, ``kubelet``, optional ``steps``).

    Steps are applied in order with the same rules as the API (a pod name in use is a Conflict).
    Returns the scenario, its edit token (never stored, shown once) and the steps' outcomes. Raises
    Invalid (malformed document, or a configuration the kubelet refuses, in its words), Conflict,
    TooLarge.
    """
    if not isinstance(document, dict):
        raise Invalid(
            "A scenario document must be a JSON object.", [{"path": "", "message": "expected an object"}]
        )
    raw_steps = document.get("steps") or []
    if not isinstance(raw_steps, list):
        raise Invalid("steps must be a list.", [{"path": "steps", "message": "expected a list"}])
    if len(raw_steps) > settings.PLAYGROUND_MAX_EVENTS:
        raise TooLarge(f"A scenario holds at most {settings.PLAYGROUND_MAX_EVENTS} events.")
    parsed, mm = new_engine(document)
    steps = [prepare_step(step, f"steps[{index}]") for index, step in enumerate(raw_steps)]
    token = new_edit_token()
    with transaction.atomic():
        scenario = new_scenario_row(document, parsed, mm, token)
        scenario.save()
        Event.objects.create(
            scenario=scenario,
            version=0,
            op="create",
            step={"op": "create"},
            outcome={"initial_state": scenario.initial_state},
        )
        events = []
        for index, step in enumerate(steps):
            if step["op"] == "admit":
                check_pod_is_new(scenario, step["pod"], f"steps[{index}].pod")
            events.append(apply_step(scenario, mm, step, f"steps[{index}]"))
        store_engine(scenario, mm, 0)
        if scenario.version > 0:
            keep_snapshot(scenario, mm)  # the document's steps are never replayed again
        scenario.save()
        version = scenario.version
        transaction.on_commit(lambda: engines.put(scenario.public_id, version, mm), robust=True)
    return Created(scenario=scenario, edit_token=token, outcomes=[event.full_outcome() for event in events])


def fork_scenario(public_id: str, version: int | None = None, name: str | None = None) -> Created:
    """A new scenario with the same machine, kubelet and history up to ``version`` (default: latest).

    Anyone who can read a scenario can fork it; the fork gets its own edit token. Raises NotFound
    (scenario, or a version it has not reached).
    """
    source = get_scenario(public_id)
    version = source.version if version is None else version
    if version < 0 or version > source.version:
        raise NotFound(
            f"Scenario {public_id!r} has versions 0 to {source.version}, not {version}.",
            [{"path": "version", "message": f"must be between 0 and {source.version}"}],
        )
    mm = engine_at(source, version)
    history = list(source.events.filter(version__gte=1, version__lte=version).order_by("version"))
    token = new_edit_token()
    parsed = parse_scenario(
        base_document({"name": name or source.name, "machine": source.machine, "kubelet": source.kubelet})
    )
    with transaction.atomic():
        fork = new_scenario_row({"machine": source.machine, "kubelet": source.kubelet}, parsed, mm, token)
        fork.initial_state = source.initial_state
        fork.forked_from, fork.forked_from_version, fork.version = source, version, version
        for event in history:
            if event.op == "restart":
                apply_config_changes(fork, event.step.get("changes"))
            if (reason := stop_reason(event.op, event.outcome)) is not None:
                fork.stopped = {"version": event.version, "reason": reason}
        fork.save()
        Event.objects.create(
            scenario=fork,
            version=0,
            op="create",
            step={"op": "create"},
            outcome={
                "initial_state": fork.initial_state,
                "forked_from": {"id": source.public_id, "version": version},
            },
        )
        Event.objects.bulk_create(
            Event(
                scenario=fork,
                version=e.version,
                op=e.op,
                pod_name=e.pod_name,
                pod_namespace=e.pod_namespace,
                pod_uid=e.pod_uid,
                step=e.step,
                outcome=e.outcome,
                checkpoint=e.checkpoint,
                explanation=e.explanation,
            )
            for e in history
        )
        ScenarioSnapshot.objects.bulk_create(
            ScenarioSnapshot(scenario=fork, version=kept.version, snapshot=kept.snapshot)
            for kept in source.snapshots.filter(version__lte=version)
        )
        pods = pods_from_events(history, mm)
        for pod in pods:
            pod.scenario = fork
        Pod.objects.bulk_create(pods)
        store_engine(fork, mm, version)
        keep_snapshot(fork, mm)
        fork.save()
    return Created(scenario=fork, edit_token=token)
