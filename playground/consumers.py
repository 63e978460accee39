"""The live feed of one scenario: a read-only websocket (docs/CONTRACTS.md section 4).

On connect the client gets a ``snapshot``; after every committed change an ``event`` carrying the
scenario view; ``{"type": "resync"}`` from the client gets a fresh snapshot. Events reach every
process through the channel layer group ``scenario.<id>``; this consumer hands them on in version
order, filling a gap (two writers' broadcasts can arrive out of order) from the event log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from playground import services

CLOSE_NOT_FOUND = 4404


def base_url(scope: dict[str, Any]) -> str:
    headers = dict(scope.get("headers") or [])
    host = headers.get(b"host", b"").decode("latin-1")
    scheme = "https" if scope.get("scheme") == "wss" else "http"
    return f"{scheme}://{host}" if host else ""


def held_version(scope: dict[str, Any]) -> int | None:
    """``?version=N``: the version the client already holds (None when absent or not a number)."""
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("version")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


class ScenarioConsumer(AsyncJsonWebsocketConsumer):
    """Read-only: clients receive snapshots and events; the only message they may send is resync."""

    public_id: str
    version: int

    async def connect(self) -> None:
        self.public_id = self.scope["url_route"]["kwargs"]["public_id"]
        self.version = -1
        # Join before reading, so no change can fall between the snapshot and the first event.
        await self.channel_layer.group_add(services.group_name(self.public_id), self.channel_name)
        await self.accept()
        if not await self.send_snapshot():
            await self.close(code=CLOSE_NOT_FOUND)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(services.group_name(self.public_id), self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resync":
            await self.send_snapshot()
        else:
            await self.send_json(
                {"type": "error", "detail": 'This socket is read-only; send {"type": "resync"}.'}
            )

    async def send_snapshot(self) -> bool:
        view = await database_sync_to_async(self.load_view)()
        if view is None:
            return False
        self.version = view["version"]
        await self.send_json({"type": "snapshot", "version": view["version"], "scenario": view})
        return True

    def load_view(self) -> dict[str, Any] | None:
        try:
            scenario = services.get_scenario(self.public_id)
        except services.NotFound:
            return None
        return services.scenario_view(scenario, base_url(self.scope))

    async def scenario_event(self, message: dict[str, Any]) -> None:
        """A committed change, from ``services.broadcast`` in any process."""
        version = message["version"]
        if version <= self.version:
            return  # already covered by the snapshot or an earlier event
        if version > self.version + 1:
            missed = await database_sync_to_async(services.events_after)(
                self.public_id, self.version, version - self.version - 1
            )
            for event in missed:
                await self.send_event(event, message["scenario"])
        await self.send_event(message["event"], message["scenario"])

    async def send_event(self, event: dict[str, Any], view: dict[str, Any]) -> None:
        if event["version"] <= self.version:
            return
        self.version = event["version"]
        await self.send_json({"type": "event", "version": event["version"], "event": event, "scenario": view})
