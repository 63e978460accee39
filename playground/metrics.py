"""``/metrics``: the playground server's own Prometheus metrics (prometheus-client).

* ``playground_http_requests_total{method}`` -- every HTTP request Django handles (``request_started``);
  with :class:`PrometheusMiddleware` installed also ``playground_http_responses_total{method, route,
  status}`` and ``playground_http_request_duration_seconds{method, route}``;
* ``playground_websocket_clients`` / ``playground_websocket_connections_total`` -- live scenario
  sockets, moved by :func:`websocket_connected` / :func:`websocket_disconnected`;
* ``playground_admissions_total{result}`` and ``playground_kubelet_restarts_total{result}`` -- admit and
  restart steps stored (counted after their transaction commits, so a rolled-back write counts nothing);
  ``playground_scenarios_created_total``.

With ``PROMETHEUS_MULTIPROC_DIR`` set (several Daphne/worker processes), prometheus-client writes the
values to files in that directory and ``/metrics`` sums every process's files; live gauges count only
processes that are alive. Included by ``playground.urls`` as ``path("metrics", include(...))``.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from django.core.signals import request_started
from django.db import transaction
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.urls import path
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from playground.models import Event, Scenario

HTTP_REQUESTS = Counter("playground_http_requests", "HTTP requests received.", ["method"])
HTTP_RESPONSES = Counter(
    "playground_http_responses",
    "HTTP responses sent, by route pattern and status.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "playground_http_request_duration_seconds", "Time to answer an HTTP request.", ["method", "route"]
)
WEBSOCKET_CLIENTS = Gauge(
    "playground_websocket_clients", "Websocket clients connected now.", multiprocess_mode="livesum"
)
WEBSOCKET_CONNECTIONS = Counter("playground_websocket_connections", "Websocket connections accepted.")
ADMISSIONS = Counter(
    "playground_admissions", "Pods submitted to a scenario's kubelet, by outcome.", ["result"]
)
RESTARTS = Counter(
    "playground_kubelet_restarts", "Kubelet restarts applied to scenarios, by outcome.", ["result"]
)
SCENARIOS = Counter("playground_scenarios_created", "Scenarios created (forks included).")

# Methods outside this set share one label value, so a client cannot grow the series without bound.
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def method_label(method: str | None) -> str:
    method = (method or "").upper()
    return method if method in METHODS else "OTHER"


def admission_result(outcome: dict[str, Any]) -> str:
    """``admitted``, ``rejected`` or ``panic`` (the real kubelet would crash) for an admit outcome."""
    if "panic" in outcome:
        return "panic"
    return "admitted" if outcome.get("admitted") else "rejected"


def restart_result(outcome: dict[str, Any]) -> str:
    if "panic" in outcome:
        return "panic"
    return "started" if outcome.get("started") else "failed"


# --- signal receivers -------------------------------------------------------------------------------


def count_request(
    sender: Any, environ: dict[str, Any] | None = None, scope: dict[str, Any] | None = None, **kw: Any
) -> None:
    """``request_started``: WSGI handlers pass ``environ``, ASGI handlers ``scope``."""
    method = (scope or {}).get("method") or (environ or {}).get("REQUEST_METHOD")
    HTTP_REQUESTS.labels(method_label(method)).inc()


def count_event(sender: Any, instance: Event, created: bool, **kw: Any) -> None:
    """An appended event: admissions and restarts, counted once its transaction commits."""
    if not created or kw.get("raw"):
        return
    if instance.op == "admit":
        counter = ADMISSIONS.labels(admission_result(instance.outcome or {}))
    elif instance.op == "restart":
        counter = RESTARTS.labels(restart_result(instance.outcome or {}))
    else:
        return
    transaction.on_commit(counter.inc)


def count_scenario(sender: Any, instance: Scenario, created: bool, **kw: Any) -> None:
    if created and not kw.get("raw"):
        transaction.on_commit(SCENARIOS.inc)


request_started.connect(count_request, dispatch_uid="playground.metrics.count_request")
post_save.connect(count_event, sender=Event, dispatch_uid="playground.metrics.count_event")
post_save.connect(count_scenario, sender=Scenario, dispatch_uid="playground.metrics.count_scenario")


# --- websockets (called by the consumer) -------------------------------------------------------------


def websocket_connected() -> None:
    WEBSOCKET_CONNECTIONS.inc()
    WEBSOCKET_CLIENTS.inc()


def websocket_disconnected() -> None:
    WEBSOCKET_CLIENTS.dec()


# --- HTTP middleware (optional: add "playground.metrics.PrometheusMiddleware" to MIDDLEWARE) --------


class PrometheusMiddleware:
    """Responses by route pattern (``api/v1/scenarios/<public_id>``, never the raw path) and status."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        start = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        method = method_label(request.method)
        HTTP_RESPONSES.labels(method, route, str(response.status_code)).inc()
        HTTP_DURATION.labels(method, route).observe(time.perf_counter() - start)
        return response


# --- the endpoint ----------------------------------------------------------------------------------


def registry() -> CollectorRegistry:
    """This process's registry, or one that reads every process's files in PROMETHEUS_MULTIPROC_DIR."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        collected = CollectorRegistry()
        multiprocess.MultiProcessCollector(collected)
        return collected
    return REGISTRY


def metrics_view(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition of the server's metrics."""
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [path("", metrics_view, name="server-metrics")]
