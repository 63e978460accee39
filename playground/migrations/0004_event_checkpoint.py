"""The checkpoint of each event's outcome moves to a text column of its own (``Event.checkpoint``).

Rows written before keep their whole outcome in ``outcome``; the data migration takes each one's
``checkpoint`` out of it into the new column, as the write path now stores it, and the reverse puts
it back. Rows are read and written in batches of ids, so a large log never sits in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from django.db import migrations, models

CHECKPOINT_KEY = "checkpoint"
BATCH = 500


def dumps_str(value: Any) -> str:
    # As playground.fastjson.dumps (not imported: a migration keeps the code it ran with).
    try:
        return orjson.dumps(value).decode("utf-8")
    except TypeError:
        import json

        return json.dumps(value, separators=(",", ":"))


def loads(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        import json

        return json.loads(text)


def split_outcome(outcome: Any) -> tuple[Any, str | None] | None:
    """``(outcome without its checkpoint, the checkpoint as JSON text)``, or None when there is nothing to
    move (not an object, or no ``checkpoint`` key)."""
    if not isinstance(outcome, dict) or CHECKPOINT_KEY not in outcome:
        return None
    light = {key: value for key, value in outcome.items() if key != CHECKPOINT_KEY}
    return light, dumps_str(outcome[CHECKPOINT_KEY])


def batches(queryset: Any) -> Iterator[list[Any]]:
    """``queryset`` in lists of at most BATCH rows, by increasing id. Each batch is read whole before it
    is written back: no cursor is left open over rows being updated (SQLite leaves that undefined)."""
    last = 0
    while True:
        batch = list(queryset.filter(id__gt=last).order_by("id")[:BATCH])
        if not batch:
            return
        yield batch
        last = batch[-1].id


def move_checkpoints_out(apps: Any, schema_editor: Any) -> None:
    """Forwards: every event's ``outcome["checkpoint"]`` into ``checkpoint`` (text), out of ``outcome``."""
    Event = apps.get_model("playground", "Event")
    events = Event.objects.using(schema_editor.connection.alias)
    for batch in batches(events.only("id", "outcome")):
        moved = []
        for event in batch:
            split = split_outcome(event.outcome)
            if split is not None:
                event.outcome, event.checkpoint = split
                moved.append(event)
        if moved:
            events.bulk_update(moved, ["outcome", "checkpoint"])


def merge_checkpoints_back(apps: Any, schema_editor: Any) -> None:
    """Backwards: each ``checkpoint`` text back into its outcome (its last key, where the engine puts it)."""
    Event = apps.get_model("playground", "Event")
    events = Event.objects.using(schema_editor.connection.alias)
    for batch in batches(events.filter(checkpoint__isnull=False).only("id", "outcome", "checkpoint")):
        for event in batch:
            event.outcome = {**(event.outcome or {}), CHECKPOINT_KEY: loads(event.checkpoint)}
            event.checkpoint = None
        events.bulk_update(batch, ["outcome", "checkpoint"])


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0003_event_outcome_unchecked"),
    ]

    operations = [
        migrations.AddField(
            model_name="event",
            name="checkpoint",
            field=models.TextField(blank=True, default=None, null=True),
        ),
        migrations.RunPython(move_checkpoints_out, merge_checkpoints_back),
    ]
