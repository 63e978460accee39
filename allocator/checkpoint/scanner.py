"""``encoding/json``'s syntax scanner (``checkValid``), for Go's exact ``invalid character ...`` texts."""

from __future__ import annotations

from allocator.gotext import go_quote


class GoSyntaxError(Exception):
    pass


def _quote_char(c: int) -> str:
    """``encoding/json.quoteChar``: the offending byte as Go prints it."""
    if c == ord("'"):
        return "'\\''"
    if c == ord('"'):
        return "'\"'"
    return "'" + go_quote(chr(c))[1:-1] + "'"


_SPACE = frozenset(b" \t\r\n")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_DIGITS = frozenset(b"0123456789")
# encoding/json: maxNestingDepth.
_MAX_NESTING_DEPTH = 10000


def check_valid_json(data: bytes) -> None:
    """``encoding/json.checkValid``: raise ``GoSyntaxError`` with Go's text for the first syntax error.

    A direct walk of the scanner's states; ``pos`` only ever moves forward, as the Go state machine does.
    """
    n = len(data)
    pos = 0

    def fail(context: str, eof_as_space: bool = False) -> None:
        # At the end of input Go's eof() feeds one more ' ': states inside a literal, a number or an
        # escape reject it with their own text, the others end with "unexpected end of JSON input".
        if pos >= n:
            if eof_as_space:
                raise GoSyntaxError(f"invalid character ' ' {context}")
            raise GoSyntaxError("unexpected end of JSON input")
        raise GoSyntaxError(f"invalid character {_quote_char(data[pos])} {context}")

    def skip_space() -> None:
        nonlocal pos
        while pos < n and data[pos] in _SPACE:
            pos += 1

    def literal(word: bytes) -> None:
        nonlocal pos
        pos += 1
        for expected in word[1:]:
            if pos >= n or data[pos] != expected:
                fail(f"in literal {word.decode()} (expecting {_quote_char(expected)})", True)
            pos += 1

    def string() -> None:
        nonlocal pos
        pos += 1  # opening quote
        while True:
            if pos >= n:
                fail("")
            c = data[pos]
            if c == ord('"'):
                pos += 1
                return
            if c == ord("\\"):
                pos += 1
                if pos >= n:
                    fail("in string escape code", True)
                if data[pos] in b'bfnrt\\/"':
                    pos += 1
                elif data[pos] == ord("u"):
                    pos += 1
                    for _ in range(4):
                        if pos >= n or data[pos] not in _HEX:
                            fail("in \\u hexadecimal character escape", True)
                        pos += 1
                else:
                    fail("in string escape code", True)
            elif c < 0x20:
                fail("in string literal")
            else:
                pos += 1

    def number() -> None:
        nonlocal pos
        if data[pos] == ord("-"):
            pos += 1
            if pos >= n or data[pos] not in _DIGITS:
                fail("in numeric literal", True)
        if data[pos] == ord("0"):
            pos += 1
        else:
            while pos < n and data[pos] in _DIGITS:
                pos += 1
        if pos < n and data[pos] == ord("."):
            pos += 1
            if pos >= n or data[pos] not in _DIGITS:
                fail("after decimal point in numeric literal", True)
            while pos < n and data[pos] in _DIGITS:
                pos += 1
        if pos < n and data[pos] in b"eE":
            pos += 1
            if pos < n and data[pos] in b"+-":
                pos += 1
            if pos >= n or data[pos] not in _DIGITS:
                fail("in exponent of numeric literal", True)
            while pos < n and data[pos] in _DIGITS:
                pos += 1

    def scalar(c: int) -> None:
        if c == ord('"'):
            string()
        elif c == ord("-") or c in _DIGITS:
            number()
        elif c == ord("t"):
            literal(b"true")
        elif c == ord("f"):
            literal(b"false")
        elif c == ord("n"):
            literal(b"null")
        else:
            fail("looking for beginning of value")

    def object_key() -> None:
        nonlocal pos
        skip_space()
        if pos >= n or data[pos] != ord('"'):
            fail("looking for beginning of object key string")
        string()
        skip_space()
        if pos >= n or data[pos] != ord(":"):
            fail("after object key")
        pos += 1

    def value() -> None:
        """One value, nested containers kept on an explicit stack (Go's parseState), so a deeply nested
        file meets Go's own limit ("exceeded max depth") rather than Python's recursion limit."""
        nonlocal pos
        stack: list[int] = []  # the open containers' closing bytes
        while True:
            skip_space()
            if pos >= n:
                fail("")
            c = data[pos]
            if c in b"{[":
                if len(stack) >= _MAX_NESTING_DEPTH:
                    fail("exceeded max depth")
                pos += 1
                close = ord("}") if c == ord("{") else ord("]")
                skip_space()
                if pos < n and data[pos] == close:
                    pos += 1
                else:
                    stack.append(close)
                    if close == ord("}"):
                        object_key()
                    continue
            else:
                scalar(c)
            # A value ended: close every container it completes, or move on to the next element.
            while stack:
                skip_space()
                close = stack[-1]
                if pos < n and data[pos] == ord(","):
                    pos += 1
                    if close == ord("}"):
                        object_key()
                    break
                if pos < n and data[pos] == close:
                    pos += 1
                    stack.pop()
                    continue
                fail("after object key:value pair" if close == ord("}") else "after array element")
            if not stack:
                return

    value()
    skip_space()
    if pos < n:
        fail("after top-level value")


def flatten_deep(data: bytes, max_depth: int = 64) -> bytes:
    """Valid JSON with every container nested deeper than ``max_depth`` emptied (``[]`` / ``{}``).

    The checkpoint's types reach only a few levels down; deeper values are skipped by Go's decoder or
    matter only by their kind, which an empty container of the same kind keeps. Python's own JSON
    parser recurses, so this keeps a hostile file from reaching its recursion limit.
    """
    out = bytearray()
    depth = 0
    in_string = escaped = False
    skip_from = 0  # the depth at which a skipped container started (0: not skipping)
    for c in data:
        if in_string:
            if not skip_from:
                out.append(c)
            if escaped:
                escaped = False
            elif c == 0x5C:  # backslash
                escaped = True
            elif c == 0x22:
                in_string = False
            continue
        if c == 0x22:
            in_string = True
        elif c in b"[{":
            depth += 1
            if depth > max_depth and not skip_from:
                skip_from = depth
                out.append(c)
                continue
        elif c in b"]}":
            if skip_from == depth:
                skip_from = 0
                out.append(c)
                depth -= 1
                continue
            depth -= 1
        if not skip_from:
            out.append(c)
    return bytes(out)
