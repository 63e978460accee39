"""Go formatting and parsing helpers needed to reproduce the kubelet's exact error texts."""

from __future__ import annotations

import re

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


def go_quote(s: str) -> str:
    """Go's ``%q`` / ``strconv.Quote`` for a string: double quotes, Go escapes, printable runes kept."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in GO_SHORT_ESCAPES:
            out.append(GO_SHORT_ESCAPES[ch])
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


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
