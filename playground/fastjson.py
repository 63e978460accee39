"""JSON encoding for the write path: orjson where it can, the standard library where it cannot.

An admission's outcome carries the whole checkpoint (one entry per running pod, as the vectors'
format does), so it is encoded twice per admission (stored in the event log, sent in the response)
and grows with the pods. orjson encodes it about ten times faster than ``json``. It refuses what the
standard library accepts (integers beyond 64 bits from a hostile document, non-string keys), so those
rare values fall back to ``json`` and nothing a client can send turns into a 500.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from django.http import HttpResponse


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


def json_response(body: Any, status: int = 200) -> HttpResponse:
    """A JSON response encoded with ``dumps``: what ``JsonResponse`` does, without its slow encoder."""
    return HttpResponse(dumps(body), status=status, content_type="application/json")
