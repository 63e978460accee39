"""Websocket routes: one read-only live feed per scenario (docs/CONTRACTS.md section 4)."""

from __future__ import annotations

from django.urls import path

from playground.consumers import ScenarioConsumer

websocket_urlpatterns = [
    path("ws/scenarios/<str:public_id>/", ScenarioConsumer.as_asgi()),
]
