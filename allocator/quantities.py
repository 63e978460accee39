"""Kubernetes resource quantities, as ``k8s.io/apimachinery/pkg/api/resource`` parses them.

Two separate questions matter to the kubelet and are kept apart here:

* *Does the text parse?* (``ParseQuantity``). A pod whose quantity does not parse is a malformed
  document: the kubelet could never have decoded it. That is an :class:`InputError`.
* *Can the parsed value be read as an int64?* (``Quantity.AsInt64``). ``"1.5Gi"`` parses, but is kept
  as an arbitrary-precision decimal internally, and ``AsInt64`` refuses it; the Memory Manager then
  fails the container with ``[memorymanager] failed to represent quantity as int64``. That is an
  admission outcome, not an input error, so :func:`as_int64` returns ``None`` instead of raising.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from allocator.errors import InputError

__all__ = [
    "MAX_INT64",
    "Quantity",
    "QuantityError",
    "as_int64",
    "cached_quantity",
    "format_quantity",
    "parse_k8s_quantity",
    "parse_quantity",
]

MAX_INT64 = (1 << 63) - 1

# resource.maxInt64Factors: decimal digits an int64 can always hold.
_MAX_INT64_FACTORS = 18
# resource.Nano: the smallest scale a quantity keeps; finer values are rounded up (away from zero).
_NANO = -9

_BINARY_SUFFIXES: dict[str, int] = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_SUFFIXES: dict[str, int] = {
    "": 0,
    "n": -9,
    "u": -6,
    "m": -3,
    "k": 3,
    "M": 6,
    "G": 9,
    "T": 12,
    "P": 15,
    "E": 18,
}
_SUFFIX_CHARS = frozenset("eEinumkKMGTP")
_INT_RE = re.compile(r"[+-]?[0-9]+\Z")


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity (``ErrFormatWrong`` / ``ErrSuffix`` / ``ErrNumeric``)."""


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parsed quantity: its exact value and what ``AsInt64`` would return (``None`` = fails).

    ``value`` is an ``int`` whenever the quantity is whole (cheap sums and comparisons in QoS), a
    ``Fraction`` otherwise.
    """

    value: int | Fraction
    int64: int | None
    text: str

    def sign(self) -> int:
        return (self.value > 0) - (self.value < 0)


def _split(text: str) -> tuple[bool, str, str, str, str]:
    """Mirror ``parseQuantityString``: (positive, value, num, denom, suffix)."""
    positive = True
    pos = 0
    end = len(text)
    if pos < end and text[0] in "+-":
        positive = text[0] != "-"
        pos += 1
    # Leading zeros are dropped; an all-zero string is the number 0 with no suffix.
    while True:
        if pos >= end:
            return positive, "0", "0", "", ""
        if text[pos] != "0":
            break
        pos += 1
    start = pos
    while pos < end and text[pos].isdigit() and text[pos].isascii():
        pos += 1
    num = text[start:pos] or "0"
    if pos >= end:
        return positive, text, num, "", ""
    denom = ""
    if text[pos] == ".":
        pos += 1
        dstart = pos
        while pos < end and text[pos].isdigit() and text[pos].isascii():
            pos += 1
        denom = text[dstart:pos]
        if pos >= end:
            return positive, text, num, denom, ""
    value = text[:pos]
    suffix_start = pos
    while pos < end and text[pos] in _SUFFIX_CHARS:
        pos += 1
    if pos >= end:
        return positive, value, num, denom, text[suffix_start:]
    if text[pos] in "+-":
        pos += 1
    while pos < end:
        if not (text[pos].isdigit() and text[pos].isascii()):
            # A non-digit after the suffix: the kubelet reports ErrFormatWrong.
            raise QuantityError(
                "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
            )
        pos += 1
    return positive, value, num, denom, text[suffix_start:]


def _interpret(suffix: str) -> tuple[int, int, str]:
    """Mirror ``suffixer.interpret``: (base, exponent, format) or QuantityError."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], "DecimalSI"
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE" and _INT_RE.match(suffix[1:]):
        exponent = int(suffix[1:])
        if -(1 << 63) <= exponent <= MAX_INT64:
            # Go truncates the parsed int64 exponent to int32.
            exponent = ((exponent + (1 << 31)) % (1 << 32)) - (1 << 31)
            return 10, exponent, "DecimalExponent"
    raise QuantityError("unable to parse quantity's suffix")


def _round_up_nano(value: Fraction) -> Fraction:
    """``inf.Dec.Round(Nano, RoundUp)``: round away from zero to 9 decimal places."""
    scaled = value * 10**9
    if scaled.denominator == 1:
        return value
    magnitude = -(-abs(scaled.numerator) // scaled.denominator)
    return Fraction(magnitude if value > 0 else -magnitude, 10**9)


def parse_k8s_quantity(text: str) -> Quantity:
    """Mirror ``resource.ParseQuantity`` and record whether ``AsInt64`` would succeed.

    Results are immutable and cached: pods repeat the same few quantity strings.
    """
    quantity = _parse_cached(text)
    if isinstance(quantity, QuantityError):
        raise QuantityError(str(quantity))
    return quantity


def cached_quantity(text: str) -> Quantity | None:
    """The parsed quantity for an exact quantity string, or ``None`` if it does not parse (fast path)."""
    quantity = _parse_cached(text)
    return None if isinstance(quantity, QuantityError) else quantity


@lru_cache(maxsize=8192)
def _parse_cached(text: str) -> Quantity | QuantityError:
    try:
        quantity = _parse(text)
    except QuantityError as error:
        return error
    value = quantity.value
    if isinstance(value, Fraction) and value.denominator == 1:
        return Quantity(int(value), quantity.int64, quantity.text)
    return quantity


def _parse(text: str) -> Quantity:
    if not text:
        raise QuantityError(
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
        )
    if text == "0":
        return Quantity(Fraction(0), 0, text)
    positive, value, num, denom, suffix = _split(text)
    base, exponent, fmt = _interpret(suffix)

    # The fast path of ParseQuantity keeps small values as int64Amount{value, scale}; only those
    # can ever satisfy AsInt64. Everything else becomes an inf.Dec, for which AsInt64 fails.
    precision = -1
    scale = 0
    mantissa = 1
    if fmt in ("DecimalExponent", "DecimalSI"):
        scale = exponent
        precision = _MAX_INT64_FACTORS - (len(num) + len(denom))
    elif exponent >= 0 and not denom:
        mantissa = 1 << exponent
        precision = 15 - len(num) - int(exponent * 3 / 10) - 1
    if precision >= 0:
        scale -= len(denom)
        if scale >= _NANO:
            digits = int(num + denom)
            amount = digits * mantissa
            if amount <= MAX_INT64:
                signed = amount if positive else -amount
                return Quantity(Fraction(signed) * Fraction(10) ** scale, _int64_amount(signed, scale), text)

    # inf.Dec path: exact value of the written number, rounded up to nano, capped at MaxInt64.
    if value.lstrip("+-") == ".":
        raise QuantityError("unable to parse quantity's numeric value")
    exact = Fraction(int(num + denom), 10 ** len(denom))
    if not positive:
        exact = -exact
    exact = exact * (Fraction(10) ** exponent if base == 10 else Fraction(2) ** exponent)
    if exact != 0:
        exact = _round_up_nano(exact)
    if abs(exact) > MAX_INT64:
        exact = Fraction(MAX_INT64) if exact > 0 else -Fraction(MAX_INT64)
    return Quantity(exact, None, text)


def _int64_amount(value: int, scale: int) -> int | None:
    """Mirror ``int64Amount.AsInt64``: negative scales fail, positive ones must not overflow."""
    if scale == 0:
        return value
    if scale < 0:
        return None
    result = value * 10**scale
    if -(1 << 63) <= result <= MAX_INT64:
        return result
    return None


def as_int64(quantity: Quantity) -> int | None:
    """``Quantity.AsInt64``: the int64 value, or ``None`` where the kubelet's conversion fails."""
    return quantity.int64


def quantity_from_json(value: object, path: str) -> Quantity:
    """Decode a quantity the way ``Quantity.UnmarshalJSON`` does (strings and bare JSON numbers)."""
    if isinstance(value, bool) or value is None:
        raise InputError(path, "must be a quantity string or an integer")
    if isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        text = repr(value) if not value.is_integer() else str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InputError(path, "must be a quantity string or an integer")
    try:
        return parse_k8s_quantity(text)
    except QuantityError as exc:
        raise InputError(path, f"invalid quantity {value!r}: {exc}") from None


def parse_quantity(value: str | int, path: str) -> int:
    """Parse a scenario quantity (``"1Gi"``, ``"1536Mi"``, ``68719476736``) into whole bytes.

    Used for machine and configuration fields, where only a non-negative whole number of bytes makes
    sense; a value that parses but is fractional or negative is an input error here.
    """
    quantity = quantity_from_json(value, path)
    if quantity.value.denominator != 1:
        raise InputError(path, f"{value!r} is not a whole number of bytes")
    if quantity.value < 0:
        raise InputError(path, f"{value!r} must not be negative")
    return int(quantity.value)


def format_quantity(size: int) -> str:
    """Bytes in the canonical binary-SI form the kubelet prints (``1073741824`` -> ``"1Gi"``).

    The largest binary suffix that divides the value exactly is used; values that no suffix divides
    are printed as plain integers, like ``Quantity.String`` does for BinarySI quantities.
    """
    if size == 0:
        return "0"
    for suffix, exponent in sorted(_BINARY_SUFFIXES.items(), key=lambda item: -item[1]):
        unit = 1 << exponent
        if size % unit == 0:
            return f"{size // unit}{suffix}"
    return str(size)
