"""Go formatting and parsing helpers needed to reproduce the kubelet's exact error texts."""

from __future__ import annotations

import re
from collections.abc import Callable

_INT_RE = re.compile(r"[+-]?[0-9]+")
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}
_INT64_MIN = -(1 << 63)
_INT64_MAX = (1 << 63) - 1

# The two-character escapes ``strconv.Quote`` writes; ``encoding/json`` uses a subset of them.
GO_SHORT_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


def quote_runes(s: str, escape: Callable[[str], str]) -> str:
    """``s`` between double quotes, each rune written as ``escape`` says (the shape of every Go quoter)."""
    return '"' + "".join(escape(ch) for ch in s) + '"'


def _quote_rune(ch: str) -> str:
    """One rune as ``strconv.Quote`` writes it: a short escape, ``\\x``, itself if printable, else ``\\u``."""
    code = ord(ch)
    if ch in GO_SHORT_ESCAPES:
        return GO_SHORT_ESCAPES[ch]
    if code < 0x20 or code == 0x7F:
        return f"\\x{code:02x}"
    if ch.isprintable() or ch == " ":
        return ch
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def go_quote(s: str) -> str:
    """Go's ``%q`` / ``strconv.Quote`` for a string: double quotes, Go escapes, printable runes kept."""
    return quote_runes(s, _quote_rune)


def parse_bool(value: str) -> bool:
    """Go ``strconv.ParseBool``; raises ``ValueError`` carrying Go's error text."""
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"strconv.ParseBool: parsing {go_quote(value)}: invalid syntax")


def atoi(value: str) -> int:
    """Go ``strconv.Atoi`` on a 64-bit platform; raises ``ValueError`` carrying Go's error text."""
    if not _INT_RE.fullmatch(value):
        raise ValueError(f"strconv.Atoi: parsing {go_quote(value)}: invalid syntax")
    n = int(value)
    if n < _INT64_MIN or n > _INT64_MAX:
        raise ValueError(f"strconv.Atoi: parsing {go_quote(value)}: value out of range")
    return n
