"""PostgreSQL: the event checkpoint column compressed with lz4 instead of pglz (nothing elsewhere).

A checkpoint is tens of kilobytes (73 kB at 1,000 pods), so PostgreSQL compresses it into TOAST on
every insert; pglz costs ~2.6 ms per 90 kB value on the benchmark machine, lz4 ~0.1 ms on top of the
plain copy, at about the same size, and reads back faster too. Only a server built with lz4 (14 and
later; Debian's is) offers it: elsewhere the column keeps the default. Rows already stored keep
their compression; it applies to the values written from now on.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations


def lz4_available(connection: Any) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
        row = cursor.fetchone()
    return row is not None and "lz4" in (row[0] or [])


def set_compression(method: str) -> Any:
    def run(apps: Any, schema_editor: Any) -> None:
        connection = schema_editor.connection
        if not lz4_available(connection):
            return
        Event = apps.get_model("playground", "Event")
        table = schema_editor.quote_name(Event._meta.db_table)
        column = schema_editor.quote_name(Event._meta.get_field("checkpoint").column)
        schema_editor.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION {method}")

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("playground", "0004_event_checkpoint"),
    ]

    operations = [
        migrations.RunPython(set_compression("lz4"), set_compression("default")),
    ]
