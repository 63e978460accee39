"""ASGI entry point for Daphne: HTTP through Django, websockets through Channels.

Django is set up first, so that the consumers (and through them the models) are imported after it.
HTTP requests run on a pool of long-lived threads (``playground.handler.PooledASGIHandler``).
"""

from __future__ import annotations

import gc
import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")
# What django.core.asgi.get_asgi_application() does, with our handler (playground/handler.py says why).
django.setup(set_prefix=False)

from playground.handler import PooledASGIHandler  # noqa: E402

django_asgi_app = PooledASGIHandler()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from playground.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Browsers send Origin on websockets; only pages served from an allowed host may connect.
        "websocket": AllowedHostsOriginValidator(URLRouter(websocket_urlpatterns)),
    }
)

# Everything loaded so far (Django, the apps, the URL patterns, the allocator) lives as long as the
# process: out of the collector's sight, a full collection scans only what requests keep alive (the
# warm engines), not the ~100,000 start-up objects every time.
gc.collect()
gc.freeze()
