"""An event's checkpoint stored apart from the rest of its outcome (``Event.checkpoint``, migration 0004).

The outcome column holds the light outcome, the checkpoint column the checkpoint as orjson text (NULL
when the outcome has none); every full read gives back the outcome the engine produced, and rows
written before 0004 (the whole outcome in one column) come out of the migration exactly as they were.
"""

from __future__ import annotations

import importlib
from typing import Any

import orjson
import pytest
from django.apps import apps as current_apps
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from playground import fastjson, services
from playground.models import Event, merged_outcome
from tests.playground.conftest import Owner, guaranteed_pod

migration_0004 = importlib.import_module("playground.migrations.0004_event_checkpoint")

BEFORE = [("playground", "0003_event_outcome_unchecked")]
AFTER = [("playground", "0004_event_checkpoint")]

# Outcomes the engine gives that are not an admission's: the key missing (a step the kubelet crashes
# on) and the key holding null (a restart that found no checkpoint file).
PANIC = {"panic": "runtime error: index out of range [1] with length 1"}
NO_FILE = {"started": False, "stage": "memory_manager", "error": "x", "state_after": None, "checkpoint": None}


def history(owner: Owner) -> list[dict[str, Any]]:
    """Admissions (one rejected), a removal: the scenario's full events as the API answers them."""
    assert owner.submit(*(guaranteed_pod(f"p{index}", "2Gi") for index in range(4))).status_code == 201
    assert owner.delete("p1").status_code == 200
    events = owner.client.get(f"/api/v1/scenarios/{owner.id}/events").json()["events"]
    assert [event["op"] for event in events] == ["create", "admit", "admit", "admit", "admit", "remove"]
    return events


def stored(public_id: str) -> list[tuple[dict[str, Any], str | None]]:
    rows = Event.objects.filter(scenario__public_id=public_id).order_by("version")
    return list(rows.values_list("outcome", "checkpoint"))


def migrated(public_id: str) -> list[tuple[dict[str, Any], Any]]:
    """``stored`` with each checkpoint text parsed: a checkpoint that was part of a jsonb outcome comes
    out of PostgreSQL with its keys in jsonb's order (shortest first), so only the values compare."""
    return [(outcome, None if text is None else orjson.loads(text)) for outcome, text in stored(public_id)]


# --- the write path and the reads ------------------------------------------------------------------


def test_the_write_path_stores_the_light_outcome_and_the_checkpoint_text(owner: Owner) -> None:
    events = history(owner)
    rows = stored(owner.id)
    assert len(rows) == len(events)
    for event, (outcome, checkpoint) in zip(events, rows, strict=True):
        assert outcome == services.light_outcome(event["outcome"])
        if "checkpoint" in event["outcome"]:
            assert checkpoint == orjson.dumps(event["outcome"]["checkpoint"]).decode()
        else:
            assert event["op"] == "create" and checkpoint is None


def test_full_and_light_reads_put_the_checkpoint_back_or_leave_it_out(owner: Owner) -> None:
    events = history(owner)
    light = owner.client.get(f"/api/v1/scenarios/{owner.id}/events?light=true").json()["events"]
    assert [event["outcome"] for event in light] == [services.light_outcome(e["outcome"]) for e in events]
    assert all("checkpoint" in event["outcome"] for event in events[1:])
    # The export's expect blocks are the full outcomes, checkpoint last as the engine puts it.
    steps = owner.client.get(f"/api/v1/scenarios/{owner.id}/export").json()["steps"]
    assert [step["expect"] for step in steps] == [event["outcome"] for event in events[1:]]
    assert all(list(step["expect"])[-1] == "checkpoint" for step in steps)
    # The latest pods' blocks come from the checkpoint column.
    blocks = {pod["name"]: pod["containers"] for pod in owner.view()["pods"]}
    entries = events[-1]["outcome"]["checkpoint"]["entries"]
    assert blocks["p0"] == services.assignments_from_checkpoint({"entries": entries})[owner_uid(owner, "p0")]


def owner_uid(owner: Owner, name: str) -> str:
    return next(pod["uid"] for pod in owner.view()["pods"] if pod["name"] == name)


def test_a_fork_copies_the_checkpoints(owner: Owner) -> None:
    events = history(owner)
    response = owner.client.post(
        f"/api/v1/scenarios/{owner.id}/fork", '{"version": 4}', content_type="application/json"
    )
    assert response.status_code == 201, response.content
    fork = response.json()["id"]
    forked = owner.client.get(f"/api/v1/scenarios/{fork}/events?after=0").json()["events"]
    assert [event["outcome"] for event in forked] == [event["outcome"] for event in events[1:5]]
    assert stored(fork)[1:] == stored(owner.id)[1:5]


@pytest.mark.parametrize(
    "outcome",
    [
        {"admitted": True, "state_after": {"0": {}}, "checkpoint": {"policyName": "Static", "entries": {}}},
        {"removed": False, "checkpoint": {"entries": {"uid": {"c": [{"numaAffinity": [0], "size": 1}]}}}},
        PANIC,
        NO_FILE,
        {"checkpoint": {"entries": {}}},
        {"huge": 2**70, "checkpoint": {"size": 2**70}},  # beyond orjson: the standard library's text
        {"checkpoint": {"entries": {"\ud800": {}}}},  # a lone surrogate: \u escapes, read back by json
    ],
)
def test_encoded_parts_join_into_the_outcome_and_merge_back(outcome: dict[str, Any]) -> None:
    light, checkpoint = fastjson.encode_parts(outcome, "test-parts")
    assert orjson.loads(light) == services.light_outcome(outcome)
    assert (checkpoint is None) == ("checkpoint" not in outcome)
    assert fastjson.join_outcome(light, checkpoint) == fastjson.dumps(outcome)
    text = None if checkpoint is None else checkpoint.decode()
    assert merged_outcome(services.light_outcome(outcome), text) == outcome


# --- migration 0004 ------------------------------------------------------------------------------


class SchemaEditor:
    """What a RunPython function reads of its schema editor."""

    connection = connection


def as_before_0004(public_id: str) -> None:
    """Rewrite the scenario's rows as 0003 stored them: the whole outcome in one column."""
    for event in Event.objects.filter(scenario__public_id=public_id):
        Event.objects.filter(pk=event.pk).update(outcome=event.full_outcome(), checkpoint=None)


def test_the_data_migration_moves_each_checkpoint_out_and_back(owner: Owner) -> None:
    events = history(owner)
    written = migrated(owner.id)
    as_before_0004(owner.id)
    assert [outcome for outcome, _ in stored(owner.id)] == [event["outcome"] for event in events]
    migration_0004.move_checkpoints_out(current_apps, SchemaEditor())
    assert migrated(owner.id) == written
    migration_0004.move_checkpoints_out(current_apps, SchemaEditor())  # a second run changes nothing
    assert migrated(owner.id) == written
    migration_0004.merge_checkpoints_back(current_apps, SchemaEditor())
    assert stored(owner.id) == [(event["outcome"], None) for event in events]


def test_the_data_migration_works_in_batches(owner: Owner, monkeypatch: pytest.MonkeyPatch) -> None:
    events = history(owner)
    written = migrated(owner.id)
    as_before_0004(owner.id)
    monkeypatch.setattr(migration_0004, "BATCH", 4)  # 6 rows: two batches, the second one short
    migration_0004.move_checkpoints_out(current_apps, SchemaEditor())
    assert migrated(owner.id) == written
    migration_0004.merge_checkpoints_back(current_apps, SchemaEditor())
    assert [outcome for outcome, _ in stored(owner.id)] == [event["outcome"] for event in events]


@pytest.mark.django_db(transaction=True)
def test_rows_written_before_0004_come_out_identical(owner: Owner) -> None:
    events = history(owner)
    written = migrated(owner.id)
    executor = MigrationExecutor(connection)
    try:
        # Backwards to 0003: the checkpoints go back into the outcomes, as 0003 stored them.
        executor.migrate(BEFORE)
        old = executor.loader.project_state(BEFORE).apps
        OldEvent = old.get_model("playground", "Event")
        assert "checkpoint" not in {field.name for field in OldEvent._meta.get_fields()}
        rows = OldEvent.objects.filter(scenario__public_id=owner.id).order_by("version")
        assert list(rows.values_list("outcome", flat=True)) == [event["outcome"] for event in events]
        # Rows only 0003 wrote, with the outcomes the engine gives besides an admission's.
        scenario_id = rows.first().scenario_id
        for version, outcome in ((100, PANIC), (101, NO_FILE)):
            OldEvent.objects.create(
                scenario_id=scenario_id,
                version=version,
                op="restart",
                step={"op": "restart"},
                outcome=outcome,
            )
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    assert migrated(owner.id)[: len(written)] == written
    assert stored(owner.id)[len(written) :] == [(PANIC, None), (services.light_outcome(NO_FILE), "null")]
    extra = Event.objects.filter(scenario__public_id=owner.id, version__gte=100).order_by("version")
    assert [event.full_outcome() for event in extra] == [PANIC, NO_FILE]
    # The API reads the migrated rows as it read them before.
    assert owner.client.get(f"/api/v1/scenarios/{owner.id}/events").json()["events"][: len(events)] == events


@pytest.mark.django_db
def test_on_postgresql_the_checkpoint_column_is_compressed_with_lz4_when_the_server_has_it() -> None:
    migration_0005 = importlib.import_module("playground.migrations.0005_event_checkpoint_lz4")
    if connection.vendor != "postgresql":
        assert not migration_0005.lz4_available(connection)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
            [Event._meta.db_table, "checkpoint"],
        )
        [compression] = cursor.fetchone()
    assert compression == ("l" if migration_0005.lz4_available(connection) else "")
