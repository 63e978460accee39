"""Storage: a scenario, its append-only event log, its pods and periodic engine snapshots.

The event log is the truth: replaying its steps through the allocator gives every state. The
``ScenarioSnapshot`` rows (``MemoryManager.to_snapshot()`` every few versions) are caches of that replay,
so loading an engine replays only the few steps after the latest one; a write in a process that
already holds the engine at the current version replays nothing (``services.EngineCache``).
"""

from __future__ import annotations

from typing import Any

from django.db import models

from playground.fastjson import CHECKPOINT_KEY, loads


class LogJSONField(models.JSONField):
    """A JSON column without SQLite's ``JSON_VALID`` check constraint (PostgreSQL's jsonb is unchanged).

    An event's outcome carried the whole checkpoint (one entry per running pod), and SQLite parsed all
    of it again on every insert to check it: ~0.3 ms per admission with 500 pods, growing with them
    (the checkpoint has since moved to a text column, ``Event.checkpoint``).
    Only the write path fills this column, with text orjson encoded from Python values, so it is valid
    JSON by construction; reads decode it as any JSONField does.
    """

    def db_check(self, connection: Any) -> str | None:
        if connection.vendor == "sqlite":
            return None
        return super().db_check(connection)


class Scenario(models.Model):
    """A node (machine + kubelet configuration) and its history, reachable by an unguessable id."""

    public_id = models.CharField(max_length=32, unique=True, editable=False)
    name = models.CharField(max_length=200)
    # The machine and kubelet sections exactly as submitted (quantity strings kept), so the export is
    # the document the user wrote; ``machine_view``/``kubelet_view`` are the normalised (bytes) forms.
    machine = models.JSONField()
    kubelet = models.JSONField()
    machine_view = models.JSONField()
    kubelet_view = models.JSONField()
    initial_state = models.JSONField()
    # sha256 hex of the edit token; the token itself is shown once and never stored.
    edit_token_hash = models.CharField(max_length=64, editable=False)
    version = models.PositiveIntegerField(default=0)
    # {"version", "reason"} once a step crashed the kubelet or a restart failed to start it: replay
    # stops there, so the scenario takes no further step (fork an earlier version instead).
    stopped = models.JSONField(null=True, blank=True, default=None)
    forked_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks"
    )
    forked_from_version = models.PositiveIntegerField(null=True, blank=True)
    # The read model after ``version`` (small: one entry per NUMA node). The blocks of the pods are
    # the checkpoint of the latest event (``Event.checkpoint``); the engine itself is in ``ScenarioSnapshot``.
    state = models.JSONField()
    numa_groups = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.public_id} v{self.version})"


class Event(models.Model):
    """One entry of a scenario's append-only log: the step applied and the engine's outcome.

    The outcome is stored in two columns: ``outcome`` holds every key but ``checkpoint`` (what
    ``services.light_outcome`` gives, small), ``checkpoint`` holds the checkpoint as JSON text, or NULL
    when the outcome has none. The checkpoint grows with the running pods (73 kB at 1,000), and as part
    of a jsonb value PostgreSQL parsed it on every insert (4 ms at 1,000 pods) and rendered it back on
    every read, even of a light outcome; as text it is copied, and a light read does not touch it.
    ``full_outcome()`` merges the two back into the outcome the engine gave.
    """

    OPS = [("create", "create"), ("admit", "admit"), ("remove", "remove"), ("restart", "restart")]

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="events")
    version = models.PositiveIntegerField()
    op = models.CharField(max_length=16, choices=OPS)
    pod_name = models.CharField(max_length=253, blank=True, default="")
    pod_namespace = models.CharField(max_length=253, blank=True, default="")
    pod_uid = models.CharField(max_length=253, blank=True, default="")
    # The step exactly as given to MemoryManager.apply (uid filled in), so replay is deterministic.
    step = models.JSONField()
    outcome = LogJSONField()
    # JSON text, as orjson encodes it; "null" for an outcome whose checkpoint is None (a restart that
    # found no file), NULL for an outcome without the key (a step the kubelet would crash on).
    checkpoint = models.TextField(null=True, blank=True, default=None)
    explanation = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["scenario", "version"]
        constraints = [models.UniqueConstraint(fields=["scenario", "version"], name="event_version_unique")]

    def __str__(self) -> str:
        return f"{self.scenario.public_id} v{self.version} {self.op} {self.pod_name}"

    def full_outcome(self) -> dict[str, Any]:
        """The outcome as the engine gave it: ``outcome`` with ``checkpoint`` (last, where the engine
        puts it) parsed back from its text. An event the write path just made keeps the engine's dict."""
        kept = self.__dict__.get(FULL_OUTCOME)
        if kept is not None:
            return kept
        return merged_outcome(self.outcome, self.checkpoint)


# Where an event made by the write path keeps the engine's own outcome dict (``Event.full_outcome``).
FULL_OUTCOME = "_full_outcome"


def merged_outcome(light: dict[str, Any], checkpoint: str | None) -> dict[str, Any]:
    """A stored light outcome and checkpoint text as the one outcome they were split from."""
    if checkpoint is None:
        return light
    return {**light, CHECKPOINT_KEY: loads(checkpoint)}


class Pod(models.Model):
    """A pod as the playground's API server sees it: Running, or Failed with the kubelet's words."""

    RUNNING = "Running"
    FAILED = "Failed"
    STATUSES = [(RUNNING, RUNNING), (FAILED, FAILED)]

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="pods")
    name = models.CharField(max_length=253)
    namespace = models.CharField(max_length=253, default="default")
    uid = models.CharField(max_length=253)
    status = models.CharField(max_length=16, choices=STATUSES)
    reason = models.CharField(max_length=200, blank=True, default="")
    message = models.TextField(blank=True, default="")
    admitted_version = models.PositiveIntegerField()
    spec = models.JSONField()

    class Meta:
        ordering = ["scenario", "admitted_version"]
        constraints = [
            models.UniqueConstraint(fields=["scenario", "name"], name="pod_name_unique"),
            models.UniqueConstraint(fields=["scenario", "uid"], name="pod_uid_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.status})"


class ScenarioSnapshot(models.Model):
    """The engine after a given version, kept every few versions so any state replays little."""

    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="snapshots")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scenario", "version"], name="snapshot_version_unique")
        ]
