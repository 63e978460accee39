"""What one committed change sends to the scenario's websocket viewers (docs/CONTRACTS.md section 4).

An event message used to carry the whole scenario view (about 50 kB at 100 pods) to every viewer, so the
fan-out cost grew with viewers x pods. Now an admit or remove carries a delta the page applies to the
view it holds: the machine state and NUMA groups after the step, the pod it added or removed, and the
blocks of the pods whose blocks changed (a rejected pod's partial blocks go at the next admission,
vectors quirk 4). The event itself goes without its checkpoint (``services.light_outcome``). The message
is JSON-encoded once, in the writing process, and every consumer of every process sends that text.

Steps that change more than that (a restart, a step the kubelet would crash on) carry no delta: the
consumers send them with the scenario view, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from playground import fastjson, services

# Blocks per pod uid as the checkpoint holds them: {uid: {container: [block, ...]}}.
Entries = dict[str, dict[str, list[dict[str, Any]]]]

# Outcome keys a delta is made of; an outcome without all of them (a panic) gets the full view.
DELTA_KEYS = ("state_after", "numa_groups_after", services.HEAVY_OUTCOME_KEY)
DELTA_OPS = ("admit", "remove")


class LastEntries:
    """Per scenario, the checkpoint entries of the newest version this process broadcast.

    A delta names the pods whose blocks changed since the version before; if this process did not
    broadcast that version (another process wrote it), the delta carries every pod's blocks instead.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.entries: OrderedDict[str, tuple[int, Entries]] = OrderedDict()

    def swap(self, public_id: str, version: int, entries: Entries) -> Entries | None:
        """Keep ``entries`` as ``version``'s; return the previous version's, if they are the ones kept."""
        with self.lock:
            kept = self.entries.get(public_id)
            if kept is None or kept[0] < version:
                self.entries[public_id] = (version, entries)
                self.entries.move_to_end(public_id)
                while len(self.entries) > self.size:
                    self.entries.popitem(last=False)
        return kept[1] if kept is not None and kept[0] == version - 1 else None


last_entries = LastEntries(256)


def blocks_view(containers: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    return {name: [services.block_view(block) for block in blocks] for name, blocks in containers.items()}


def added_pod(event: dict[str, Any], entries: Entries) -> dict[str, Any]:
    """The pod view (docs/CONTRACTS.md section 3) an admit event adds, as ``services.pod_view`` shows it."""
    outcome = event["outcome"]
    status, reason, message = services.pod_status(outcome)
    metadata = (event["pod"] or {}).get("metadata") or {}
    return {
        "name": event["pod_name"],
        "namespace": metadata.get("namespace") or "default",
        "uid": event["pod_uid"],
        "status": status,
        "reason": reason,
        "message": message,
        "admitted_version": event["version"],
        "containers": blocks_view(entries.get(event["pod_uid"], {})),
        "pod": event["pod"],
    }


def changed_blocks(previous: Entries | None, entries: Entries, skip: set[str]) -> dict[str, Any]:
    """``{"containers": {uid: blocks}, "containers_complete": bool}``: the blocks that changed since
    ``previous``, or, without it, every pod's (complete: a pod not named has no blocks)."""
    if previous is None:
        return {
            "containers": {uid: blocks_view(c) for uid, c in entries.items() if uid not in skip},
            "containers_complete": True,
        }
    # One pass over the pods with cheap checks: this runs for every event, and a scenario may hold
    # thousands of pods. The engine keeps an unchanged pod's rendering as the same object from version
    # to version, so identity settles almost every pod; equality decides the rest.
    changed: dict[str, Any] = {}
    kept = 0
    for uid, containers in entries.items():
        before = previous.get(uid)
        if before is not None:
            kept += 1
        if before is not containers and uid not in skip and before != containers:
            changed[uid] = blocks_view(containers)
    if kept < len(previous):  # some pods' blocks are gone
        for uid in previous:
            if uid not in entries and uid not in skip:
                changed[uid] = {}
    return {"containers": changed, "containers_complete": False}


def delta(public_id: str, event: dict[str, Any]) -> dict[str, Any] | None:
    """What the page changes in the scenario view it holds to reach ``event``'s version, or None when
    the step changes more than state, groups, pods and blocks (the viewers then get the whole view)."""
    outcome = event["outcome"]
    if event["op"] not in DELTA_OPS or "panic" in outcome or any(key not in outcome for key in DELTA_KEYS):
        return None
    entries: Entries = outcome[services.HEAVY_OUTCOME_KEY].get("entries") or {}
    previous = last_entries.swap(public_id, event["version"], entries)
    added = [added_pod(event, entries)] if event["op"] == "admit" else []
    removed = [event["pod_name"]] if event["op"] == "remove" and event["pod_name"] else []
    return {
        "state": outcome["state_after"],
        "numa_groups": outcome["numa_groups_after"],
        "pods_added": added,
        "pods_removed": removed,
        **changed_blocks(previous, entries, {pod["uid"] for pod in added}),
    }


def light_event(event: dict[str, Any]) -> dict[str, Any]:
    return {**event, "outcome": services.light_outcome(event["outcome"])}


def group_message(public_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The channel-layer message for one event: ``text`` is the websocket message, already encoded;
    without a delta, the consumers add the scenario view to ``event`` themselves."""
    light = light_event(event)
    change = delta(public_id, event)
    message: dict[str, Any] = {"type": "scenario.event", "version": event["version"], "event": light}
    if change is not None:
        message = {
            "type": "scenario.event",
            "version": event["version"],
            "text": fastjson.dumps_str(
                {"type": "event", "version": event["version"], "event": light, "delta": change}
            ),
        }
    return message
