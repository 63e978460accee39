"""Settings for the Memory Manager Playground, read from the environment.

Every variable is optional; a bad value stops the process with ``ImproperlyConfigured`` naming the
variable, because a typo silently falling back to a default is worse than not starting.

Embedded default: SQLite under ``PLAYGROUND_DATA_DIR`` (``./data``) and the in-memory channel layer,
one Daphne process. Shared deployment: ``DATABASE_URL=postgres://...`` (psycopg 3) and
``REDIS_URL=redis://...`` (channels-redis), any number of Daphne processes.

    PLAYGROUND_DATA_DIR       directory for the SQLite file and the generated secret key
    DATABASE_URL              postgres://user:password@host:port/name | sqlite:///absolute/path.sqlite3
    REDIS_URL                 redis://host:port/db (channels-redis); unset: in-memory layer (one process)
    SECRET_KEY                unset: generated once into <data dir>/secret_key
    DEBUG                     true|false (default false)
    ALLOWED_HOSTS             comma-separated (default 127.0.0.1,localhost,[::1])
    CSRF_TRUSTED_ORIGINS      comma-separated origins, e.g. https://playground.example.com
    SECURE_SSL_REDIRECT, SECURE_HSTS_SECONDS, SESSION_COOKIE_SECURE/CSRF_COOKIE_SECURE (via HTTPS_ONLY)
    PLAYGROUND_MAX_BODY_BYTES     largest request body accepted (default 1 MiB) -> 413
    PLAYGROUND_MAX_EVENTS         most events one scenario may hold (default 20000) -> 413
    PLAYGROUND_MAX_PODS_PER_REQUEST  most pods in one submission (default 100) -> 413
    PLAYGROUND_SQLITE_TEST_NAME   SQLite file the test suite uses (default <data dir>/test_db_<pid>.sqlite3)
    PLAYGROUND_CONN_MAX_AGE   seconds a request thread keeps its database connection (default 600)
    PLAYGROUND_HTTP_THREADS   threads running the requests of one server process (default 8, handler.py)
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """A boolean variable; anything but the usual spellings is an error, not False."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name}={raw!r} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def data_dir() -> Path:
    path = Path(env_str("PLAYGROUND_DATA_DIR", str(BASE_DIR / "data"))).expanduser().resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImproperlyConfigured(f"PLAYGROUND_DATA_DIR={str(path)!r} cannot be created: {exc}") from None
    return path


def load_secret_key(directory: Path) -> str:
    """SECRET_KEY from the environment, else one generated once and kept in the data directory."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env is not None:
        if len(from_env) < 32:
            raise ImproperlyConfigured("SECRET_KEY must be at least 32 characters long")
        return from_env
    key_file = directory / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting together must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(50))
    key = key_file.read_text().strip()
    if len(key) < 32:
        raise ImproperlyConfigured(f"{key_file} holds a secret key shorter than 32 characters")
    return key


# Seconds a database connection is kept (Django's CONN_MAX_AGE); the request threads are long-lived.
DEFAULT_CONN_MAX_AGE = 600


def sqlite_database(path: Path, test_name: Path) -> dict[str, object]:
    """SQLite tuned for one writer at a time and many readers.

    WAL lets reads proceed during a write; IMMEDIATE transactions take the write lock at BEGIN, so two
    submissions to the same scenario are serialised instead of failing with "database is locked" on
    upgrade; the busy timeout makes a waiting writer wait rather than error.
    """
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": path,
        # Requests run on a fixed pool of threads (playground/handler.py), so a kept connection is reused.
        "CONN_MAX_AGE": env_int("PLAYGROUND_CONN_MAX_AGE", DEFAULT_CONN_MAX_AGE),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;",
        },
        # A file, not :memory:, so a Daphne live server in another process sees the test data.
        "TEST": {"NAME": test_name},
    }


def database_from_url(url: str, directory: Path) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme in ("postgres", "postgresql"):
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured("DATABASE_URL names no database (postgres://user:pw@host:port/NAME)")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": env_int("PLAYGROUND_CONN_MAX_AGE", DEFAULT_CONN_MAX_AGE),  # see sqlite_database()
            "CONN_HEALTH_CHECKS": True,
            # Explicit: channels' live server would otherwise prefix "test_" twice.
            "TEST": {"NAME": f"test_{name}"},
        }
    if parts.scheme == "sqlite":
        path = Path(unquote(parts.path))
        if not path.is_absolute():
            path = directory / path
        return sqlite_database(path, path.with_name(f"test_{path.name}"))
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parts.scheme!r} is not supported (postgres:// or sqlite://)"
    )


REDIS_SOCKET_TIMEOUT = 30.0


def channel_layers(redis_url: str | None) -> dict[str, dict[str, object]]:
    if not redis_url:
        # channels' in-memory layer without its deep copy per receiver (playground/layers.py).
        return {"default": {"BACKEND": "playground.layers.SharedMessageInMemoryChannelLayer"}}
    if urlsplit(redis_url).scheme not in ("redis", "rediss", "unix"):
        raise ImproperlyConfigured(f"REDIS_URL={redis_url!r} is not a redis://, rediss:// or unix:// URL")
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                # redis-py 8 defaults socket_timeout to 5 s, the same as channels-redis' BZPOPMIN wait:
                # an idle websocket's receive then raises TimeoutError and the consumer dies
                # (django/channels_redis#422). A read timeout well above the blocking wait fixes it.
                "hosts": [{"address": redis_url, "socket_timeout": REDIS_SOCKET_TIMEOUT}],
                "capacity": 1000,
                "expiry": 30,
            },
        }
    }


DATA_DIR = data_dir()
SECRET_KEY = load_secret_key(DATA_DIR)
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "daphne",  # first: makes runserver the ASGI/Daphne server
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "ninja",  # serves the OpenAPI docs page's assets locally instead of from a CDN
    "playground",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "playground.headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# The JSON API's scenario endpoints (``PLAYGROUND_API_PREFIX``) run through the part of the chain that
# touches their answers: the security headers, the Content-Security-Policy, the host check and
# Content-Length (CommonMiddleware), X-Frame-Options. Sessions, CSRF (ninja's views are csrf_exempt and
# writes need the Bearer token), auth, messages and static files have nothing to do there, and cost a
# tenth of a millisecond per request (playground/handler.py). The pages, the admin, the API docs and
# everything else run through MIDDLEWARE.
PLAYGROUND_API_PREFIX = "/api/v1/scenarios"
PLAYGROUND_API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "playground.headers.ContentSecurityPolicyMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "playground.urls"
ASGI_APPLICATION = "playground.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

_database_url = os.environ.get("DATABASE_URL", "").strip()
DATABASES = {
    "default": database_from_url(_database_url, DATA_DIR)
    if _database_url
    else sqlite_database(
        DATA_DIR / "playground.sqlite3",
        # Per process: several test runs in one checkout must not share (and delete) one test database.
        # A forked live server inherits the parent's name, so it still sees the test data.
        Path(env_str("PLAYGROUND_SQLITE_TEST_NAME", str(DATA_DIR / f"test_db_{os.getpid()}.sqlite3"))),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CHANNEL_LAYERS = channel_layers(os.environ.get("REDIS_URL", "").strip() or None)

# Limits: a request body above this is refused with 413 before it is parsed.
PLAYGROUND_MAX_BODY_BYTES = env_int("PLAYGROUND_MAX_BODY_BYTES", 1024 * 1024, minimum=1024)
PLAYGROUND_MAX_EVENTS = env_int("PLAYGROUND_MAX_EVENTS", 20000, minimum=1)
PLAYGROUND_MAX_PODS_PER_REQUEST = env_int("PLAYGROUND_MAX_PODS_PER_REQUEST", 100, minimum=1)
# Threads that run HTTP requests (middleware, views, database) in one server process.
PLAYGROUND_HTTP_THREADS = env_int("PLAYGROUND_HTTP_THREADS", 8, minimum=1)
DATA_UPLOAD_MAX_MEMORY_SIZE = PLAYGROUND_MAX_BODY_BYTES
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000

# Security headers.
HTTPS_ONLY = env_bool("HTTPS_ONLY", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_SECURE = HTTPS_ONLY
CSRF_COOKIE_SECURE = HTTPS_ONLY
SESSION_COOKIE_HTTPONLY = True
if env_bool("BEHIND_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("PLAYGROUND_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing root on every start
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed but not hashed: pages keep working whether or not collectstatic has run.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # With DEBUG off a 500 would otherwise leave no trace.
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
        "playground": {"handlers": ["console"], "level": env_str("PLAYGROUND_LOG_LEVEL", "INFO").upper()},
    },
}
