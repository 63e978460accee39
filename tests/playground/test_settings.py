"""Settings come from the environment and fail loudly on bad values.

Each case starts a fresh interpreter (settings are read once per process) with its own data directory.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

REPO = Path(__file__).resolve().parents[2]
PROBE = """
import json, django
from django.conf import settings
django.setup()
db = settings.DATABASES["default"]
print(json.dumps({
    "debug": settings.DEBUG, "engine": db["ENGINE"], "name": str(db["NAME"]), "port": db.get("PORT"),
    "options": db.get("OPTIONS", {}), "layer": settings.CHANNEL_LAYERS["default"]["BACKEND"],
    "layer_config": settings.CHANNEL_LAYERS["default"].get("CONFIG"), "secret": settings.SECRET_KEY,
    "hosts": settings.ALLOWED_HOSTS, "max_body": settings.PLAYGROUND_MAX_BODY_BYTES,
}))
"""
CLEARED = ("DATABASE_URL", "REDIS_URL", "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "PLAYGROUND_MAX_BODY_BYTES")


def start(data_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in CLEARED}
    environment.update(PLAYGROUND_DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="playground.settings", **env)
    command = [sys.executable, "-c", PROBE]
    return subprocess.run(command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=60)


def settings_with(data_dir: Path, **env: str) -> dict[str, Any]:
    started = start(data_dir, **env)
    assert started.returncode == 0, started.stderr
    return json.loads(started.stdout)


def test_the_embedded_default_is_sqlite_in_the_data_dir_with_the_in_memory_layer(tmp_path: Path) -> None:
    found = settings_with(tmp_path)
    assert found["debug"] is False
    assert found["engine"] == "django.db.backends.sqlite3" and found["name"].startswith(str(tmp_path))
    assert found["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in found["options"]["init_command"] and found["options"]["timeout"] > 0
    assert found["layer"] == "playground.layers.SharedMessageInMemoryChannelLayer"  # an InMemoryChannelLayer
    assert found["max_body"] == 1024 * 1024


def test_the_secret_key_is_generated_once_into_the_data_dir(tmp_path: Path) -> None:
    first, second = settings_with(tmp_path), settings_with(tmp_path)
    key_file = tmp_path / "secret_key"
    assert first["secret"] == second["secret"] == key_file.read_text().strip()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert settings_with(tmp_path, SECRET_KEY="k" * 40)["secret"] == "k" * 40


def test_urls_select_postgresql_and_redis(tmp_path: Path) -> None:
    found = settings_with(
        tmp_path,
        DATABASE_URL="postgres://mm:s%40cret@db.internal:5433/playground",
        REDIS_URL="redis://cache.internal:6390/0",
        ALLOWED_HOSTS="playground.example.com, 10.0.0.5",
    )
    assert (found["engine"], found["name"], found["port"]) == (
        "django.db.backends.postgresql",
        "playground",
        "5433",
    )
    assert found["layer"] == "channels_redis.core.RedisChannelLayer"
    [host] = found["layer_config"]["hosts"]
    assert (host["address"] if isinstance(host, dict) else host) == "redis://cache.internal:6390/0"
    assert found["hosts"] == ["playground.example.com", "10.0.0.5"]


@pytest.mark.parametrize(
    ("env", "words"),
    [
        pytest.param({"DEBUG": "maybe"}, "DEBUG='maybe' is not a boolean", id="a boolean that is not one"),
        pytest.param({"DATABASE_URL": "mysql://u@h/db"}, "scheme 'mysql'", id="an unsupported database"),
        pytest.param({"DATABASE_URL": "postgres://u@h:5432/"}, "names no database", id="no database name"),
        pytest.param({"REDIS_URL": "http://cache:6379"}, "REDIS_URL", id="a redis URL that is not one"),
        pytest.param({"SECRET_KEY": "short"}, "at least 32 characters", id="a short secret key"),
        pytest.param(
            {"PLAYGROUND_MAX_BODY_BYTES": "1MB"}, "is not an integer", id="a limit that is not a number"
        ),
    ],
)
def test_a_bad_value_stops_the_process_naming_the_variable(
    tmp_path: Path, env: dict[str, str], words: str
) -> None:
    started = start(tmp_path, **env)
    assert started.returncode != 0
    assert "ImproperlyConfigured" in started.stderr and words in started.stderr


@pytest.mark.django_db
def test_responses_carry_security_headers(client: Client) -> None:
    response = client.get("/api/v1/health")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
