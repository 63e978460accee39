"""JSON encoding for the write path: orjson where it can, the standard library where it cannot.

An admission's outcome carries the whole checkpoint (one entry per running pod, as the vectors'
format does), so it is encoded for the event log and the response and grows with the pods. orjson
encodes it about ten times faster than ``json``; ``encode_outcome`` goes further and keeps each pod's
checkpoint entry encoded between steps (the engine shares an unchanged pod's entry between outcomes),
so an admission encodes only what changed and splices the rest. orjson refuses what the standard
library accepts (integers beyond 64 bits from a hostile document, non-string keys), so those rare
values fall back to ``json`` and nothing a client can send turns into a 500.
"""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any

import orjson
from django.http import HttpResponse

# Encoded checkpoint entries by the identity of the engine's rendering of one pod (a dict shared,
# read-only, between the outcomes of the steps that leave the pod's blocks as they are). The value
# keeps the rendering alive, so its id cannot be reused while the entry is here.
_ENTRY_CACHE_SIZE = 1 << 16
_entries: dict[int, tuple[Any, bytes]] = {}
_entries_lock = threading.Lock()
# Stands for the checkpoint while the rest of the outcome is encoded; random, so no text can equal it.
_MARKER = f"checkpoint-{secrets.token_hex(16)}"
_MARKER_JSON = orjson.dumps(_MARKER)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # Same output shape, only slower: huge integers, non-str keys, lone surrogates (kept as
        # \u escapes, which is why the fallback stays ASCII) and the like.
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def dumps_str(value: Any) -> str:
    """``value`` as a compact JSON string (what a JSON column is given)."""
    return dumps(value).decode("utf-8")


def _entry(uid: str, containers: Any) -> bytes:
    """``"<uid>":{...}`` of one checkpoint entry, from the cache while the engine shares its rendering."""
    key = id(containers)
    cached = _entries.get(key)
    if cached is not None and cached[0] is containers:
        return orjson.dumps(uid) + b":" + cached[1]
    encoded = orjson.dumps(containers)
    with _entries_lock:
        if len(_entries) >= _ENTRY_CACHE_SIZE:
            _entries.clear()  # the renderings of pods long gone; the live ones come back on next use
        _entries[key] = (containers, encoded)
    return orjson.dumps(uid) + b":" + encoded


def _checkpoint(checkpoint: dict[str, Any]) -> bytes:
    """The checkpoint document as ``orjson.dumps`` writes it, its entries spliced from the cache."""
    entries = checkpoint["entries"]
    head = orjson.dumps({key: _MARKER if key == "entries" else value for key, value in checkpoint.items()})
    body = b"{" + b",".join([_entry(uid, containers) for uid, containers in entries.items()]) + b"}"
    return head.replace(_MARKER_JSON, body, 1)


def encode_outcome(outcome: dict[str, Any]) -> bytes:
    """``dumps(outcome)``, byte for byte, without re-encoding the pods whose entries did not change.

    Only the shape the engine renders is spliced (a ``checkpoint`` object whose ``entries`` maps pod
    uids to objects); anything else, or anything orjson refuses, is encoded whole by ``dumps``.
    """
    checkpoint = outcome.get("checkpoint")
    if (
        not isinstance(checkpoint, dict)
        or not isinstance(checkpoint.get("entries"), dict)
        or not all(type(uid) is str for uid in checkpoint["entries"])
    ):
        return dumps(outcome)
    try:
        head = orjson.dumps(
            {key: _MARKER if key == "checkpoint" else value for key, value in outcome.items()}
        )
        if head.count(_MARKER_JSON) != 1:
            return dumps(outcome)
        return head.replace(_MARKER_JSON, _checkpoint(checkpoint), 1)
    except TypeError:
        return dumps(outcome)


def json_response(body: Any, status: int = 200) -> HttpResponse:
    """A JSON response encoded with ``dumps``: what ``JsonResponse`` does, without its slow encoder."""
    return HttpResponse(dumps(body), status=status, content_type="application/json")


def bytes_response(content: bytes, status: int = 200) -> HttpResponse:
    """A JSON response from bytes already encoded (``encode_outcome`` spliced into the answer)."""
    return HttpResponse(content, status=status, content_type="application/json")
