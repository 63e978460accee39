"""JSON encoding for the write path: orjson where it can, the standard library where it cannot.

An admission's outcome carries the whole checkpoint (one entry per running pod, as the vectors'
format does), so it is encoded for the event log and the response and grows with the pods. orjson
encodes it about ten times faster than ``json``; ``encode_parts`` goes further and keeps a scenario's
last encoded checkpoint entries, so an admission that only adds a pod encodes that pod's entry and
splices the rest. The checkpoint is encoded apart from the rest of the outcome (the event log stores
it in a column of its own) and ``join_outcome`` splices the two for an answer.

orjson refuses what the standard library accepts (integers beyond 64 bits from a hostile document,
non-string keys), so those rare values fall back to ``json`` and nothing a client can send turns
into a 500.
"""

from __future__ import annotations

import json
import operator
import secrets
import threading
from collections import OrderedDict
from itertools import islice
from typing import Any

import orjson
from django.http import HttpResponse

# The last checkpoint entries encoded per stream (a scenario's successive outcomes): the engine renders
# each step's entries as a patched copy of the previous ones, sharing an unchanged pod's rendering, so
# an admission's entries are usually the previous ones plus the new pod at the end.
_STREAMS = 256
_Encoded = tuple[list[str], list[Any], bytes]  # keys, their renderings (kept alive), body without "}"
_last_entries: OrderedDict[str, _Encoded] = OrderedDict()
_last_entries_lock = threading.Lock()
# Stands for a spliced value while the rest is encoded; random, so no text can equal it.
_MARKER = f"spliced-{secrets.token_hex(16)}"
_MARKER_JSON = orjson.dumps(_MARKER)
# The outcome key stored apart (``Event.checkpoint``), encoded on its own.
CHECKPOINT_KEY = "checkpoint"
CHECKPOINT_KEY_JSON = orjson.dumps(CHECKPOINT_KEY)


def dumps(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON bytes."""
    try:
        return orjson.dumps(value)
    except TypeError:
        # Same output shape, only slower: huge integers, non-str keys, lone surrogates (kept as
        # \u escapes, which is why the fallback stays ASCII) and the like.
        return json.dumps(value, separators=(",", ":")).encode("ascii")


def loads(text: str | bytes) -> Any:
    """JSON text as Python values: orjson, or ``json`` for what orjson refuses (a lone surrogate
    escape ``dumps`` wrote through the standard library for a hostile value)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def dumps_str(value: Any) -> str:
    """``value`` as a compact JSON string (what a JSON column is given)."""
    return dumps(value).decode("utf-8")


def _entries_body(stream: str, entries: dict[str, Any]) -> bytes:
    """``orjson.dumps(entries)`` without its closing brace, from the stream's last entries if they are a
    prefix of these (the very same uid and rendering objects, in the same order)."""
    with _last_entries_lock:
        last = _last_entries.pop(stream, None)
        if last is not None:
            keys, values, body = last
            count = len(keys)
            if (
                len(entries) >= count
                and all(map(operator.is_, entries, keys))
                and all(map(operator.is_, entries.values(), values))
            ):
                if len(entries) > count:
                    added = dict(islice(entries.items(), count, None))
                    tail = orjson.dumps(added)[1:-1]
                    body = body + b"," + tail if count else body + tail
                    keys.extend(added)
                    values.extend(added.values())
            else:
                last = None
        if last is None:
            keys, values, body = list(entries), list(entries.values()), orjson.dumps(entries)[:-1]
        _last_entries[stream] = (keys, values, body)
        while len(_last_entries) > _STREAMS:
            _last_entries.popitem(last=False)
    return body


def _spliced(value: dict[str, Any], key: str, encoded: bytes) -> bytes:
    """``orjson.dumps(value)`` with ``value[key]`` written as the JSON text ``encoded``."""
    head = orjson.dumps({name: _MARKER if name == key else item for name, item in value.items()})
    before, marker, after = head.partition(_MARKER_JSON)
    if not marker or _MARKER_JSON in after:
        raise TypeError("the marker is not where the value was")  # -> encoded whole
    return b"".join((before, encoded, after))


def encode_outcome(outcome: dict[str, Any], stream: str | None = None) -> bytes:
    """``dumps(outcome)``, byte for byte when ``checkpoint`` is the outcome's last key (the engine puts it
    there); with ``stream``, as ``encode_parts`` (pods' entries encoded for the previous outcome are
    not encoded again)."""
    light, checkpoint = encode_parts(outcome, stream)
    return join_outcome(light, checkpoint)


def encode_parts(outcome: dict[str, Any], stream: str | None = None) -> tuple[bytes, bytes | None]:
    """The outcome as two JSON texts: every key but ``checkpoint`` (the light outcome), and the
    checkpoint (None when the outcome has no such key), each encoded once.

    With ``stream`` (one per scenario, its outcomes in version order) the checkpoint's entries of pods
    encoded for the previous outcome are spliced, not encoded again. Only the shape the engine renders
    is spliced (a ``checkpoint`` object whose ``entries`` maps pod uids to objects); anything else, or
    anything orjson refuses, is encoded whole by ``dumps``.
    """
    if CHECKPOINT_KEY not in outcome:
        return dumps(outcome), None
    light = dumps({key: value for key, value in outcome.items() if key != CHECKPOINT_KEY})
    return light, encode_checkpoint(outcome[CHECKPOINT_KEY], stream)


def encode_checkpoint(checkpoint: Any, stream: str | None) -> bytes:
    # (A uid that is not a string makes orjson raise TypeError: encoded whole below.)
    if stream is None or not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("entries"), dict):
        return dumps(checkpoint)
    try:
        entries = _entries_body(stream, checkpoint["entries"]) + b"}"
        return _spliced(checkpoint, "entries", entries)
    except TypeError:
        with _last_entries_lock:
            _last_entries.pop(stream, None)
        return dumps(checkpoint)


def join_outcome(light: bytes, checkpoint: bytes | None) -> bytes:
    """The whole outcome's JSON from ``encode_parts``' two texts, the checkpoint as the last key (what
    ``Event.full_outcome`` gives back): a copy, nothing encoded again."""
    if checkpoint is None:
        return light
    separator = b"," if len(light) > 2 else b""  # b"{}": an outcome of nothing but the checkpoint
    return b"".join((light[:-1], separator, CHECKPOINT_KEY_JSON, b":", checkpoint, b"}"))


def bytes_response(content: bytes, status: int = 200) -> HttpResponse:
    """A JSON response from bytes already encoded (the stored outcome texts spliced into the answer)."""
    return HttpResponse(content, status=status, content_type="application/json")
