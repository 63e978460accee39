"""Kubernetes resource quantities, as ``k8s.io/apimachinery/pkg/api/resource`` parses them.

Two separate questions matter to the kubelet and are kept apart here:

* *Does the text parse?* (``ParseQuantity``). A pod whose quantity does not parse is a malformed
  document: the kubelet could never have decoded it. That is an :class:`InputError`.
* *Can the parsed value be read as an int64?* (``Quantity.AsInt64``). ``"1.5Gi"`` parses, but is kept
  as an arbitrary-precision decimal internally, and ``AsInt64`` refuses it; the Memory Manager then
  fails the container with ``[memorymanager] failed to represent quantity as int64``. That is an
  admission outcome, not an input error, so :func:`as_int64` returns ``None`` instead of raising.

Like Go's ``inf.Dec``, a parsed number is held as a coefficient and a power of ten, and only turned into
a Python number when that is cheap: an eleven-character ``"1e40000000"`` must never build
``10**40000000``. Values too large to hold as an ``int`` stay a :class:`HugeValue` (exact, comparable,
never converted). Machine and configuration fields need whole int64 bytes, so :func:`parse_quantity`
refuses anything beyond int64 with an :class:`InputError` naming the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache

from allocator.errors import InputError

__all__ = [
    "MAX_INT64",
    "MAX_QUANTITY_DIGITS",
    "HugeValue",
    "Quantity",
    "QuantityError",
    "as_int64",
    "cached_quantity",
    "format_quantity",
    "parse_k8s_quantity",
    "parse_quantity",
    "signed_bytes",
]

MAX_INT64 = (1 << 63) - 1

# The most digits the playground reads in a quantity's number. Go's inf.Dec has no such limit; this
# is the playground's own input bound, the one CPython sets for decimal text -> int conversion
# (sys.int_info.default_max_str_digits) because that conversion is quadratic. Longer numbers are
# refused as input (a 422 naming the field), never truncated.
MAX_QUANTITY_DIGITS = 4300
# Values below 2**_MAX_EXACT_BITS (about 4200 digits) are held as int/Fraction; larger ones as HugeValue.
_MAX_EXACT_BITS = 14000
# resource.maxInt64Factors: decimal digits an int64 can always hold.
_MAX_INT64_FACTORS = 18
# resource.Nano: the smallest scale a quantity keeps; finer values are rounded up (away from zero).
_NANO = -9
# strconv.ParseInt(exponent, 10, 64) fails beyond 19 significant digits.
_MAX_INT64_DIGITS = 19

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
_FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_TOO_MANY_DIGITS = (
    f"has more than {MAX_QUANTITY_DIGITS} digits: longer than any quantity the playground reads"
)
_TEN_TO_MAX_DIGITS = 10**MAX_QUANTITY_DIGITS


class QuantityError(ValueError):
    """The text is not a Kubernetes quantity (``ErrFormatWrong`` / ``ErrSuffix`` / ``ErrNumeric``)."""


class HugeValue(Decimal):
    """An exact quantity value too large to hold as an ``int`` (``"1e40000000"``, ``"1e5000"``).

    It compares exactly with ints, fractions and other values (what QoS classification needs), but
    refuses to become an integer or to take part in arithmetic: that would build the number Go's
    ``inf.Dec`` keeps as a scale. No kubelet field can hold it, so where it was read from a document
    field (``path``) the refusal is an :class:`InputError` naming that field.
    """

    # ADAPTATION until allocator.scenario reads kube/system reserved with signed_bytes(): its
    # math.ceil(quantity.value) then refuses with an InputError naming the field instead of a 500.
    path = ""

    def at(self, path: str) -> HugeValue:
        """This value, remembering the document field it was read from."""
        located = HugeValue(self)
        located.path = path
        return located

    def _refuse(self, *_: object) -> int:
        message = f"{self:.3e} is beyond what the kubelet can hold (int64)"
        if self.path:
            raise InputError(self.path, message)
        raise OverflowError(message)

    __int__ = __index__ = __trunc__ = __floor__ = __ceil__ = _refuse

    def as_integer_ratio(self) -> tuple[int, int]:
        return self._refuse()

    def _no_arithmetic(self, *_: object) -> HugeValue:
        # Decimal arithmetic would round to 28 digits; the exact result is no more usable than this.
        raise QuantityError(f"quantity {self:.3e} is too large to compute with")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _no_arithmetic
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _no_arithmetic


@dataclass(frozen=True, slots=True)
class Quantity:
    """A parsed quantity: its exact value and what ``AsInt64`` would return (``None`` = fails).

    ``value`` is an ``int`` whenever the quantity is whole and of a sane size (cheap sums and
    comparisons in QoS), a ``Fraction`` when it has a fractional part, a :class:`HugeValue` when it
    is too large to hold as an ``int``. ``saturated`` records that ``ParseQuantity`` capped a BinarySI
    value at MaxInt64 (``"8Ei"``): the kubelet goes on with the cap, a machine field must not.
    """

    value: int | Fraction | HugeValue
    int64: int | None
    text: str
    saturated: bool = False

    def sign(self) -> int:
        return (self.value > 0) - (self.value < 0)


def _int32(value: int) -> int:
    """Go's ``int32`` wrap-around: scales and exponents are int32 in ``resource`` and ``inf``."""
    return ((value + (1 << 31)) % (1 << 32)) - (1 << 31)


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
            raise QuantityError(_FORMAT_WRONG)
        pos += 1
    return positive, value, num, denom, text[suffix_start:]


def _parse_exponent(digits: str) -> int | None:
    """``strconv.ParseInt(digits, 10, 64)``, never converting long text: ``None`` when out of range."""
    sign = -1 if digits[0] == "-" else 1
    significant = digits.lstrip("+-").lstrip("0")
    if len(significant) > _MAX_INT64_DIGITS:
        return None
    exponent = sign * int(significant or "0")
    return exponent if -(1 << 63) <= exponent <= MAX_INT64 else None


def _interpret(suffix: str) -> tuple[int, int, str]:
    """Mirror ``suffixer.interpret``: (base, exponent, format) or QuantityError."""
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], "DecimalSI"
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], "BinarySI"
    if len(suffix) > 1 and suffix[0] in "eE" and _INT_RE.match(suffix[1:]):
        exponent = _parse_exponent(suffix[1:])
        if exponent is not None:
            # Go truncates the parsed int64 exponent to int32.
            return 10, _int32(exponent), "DecimalExponent"
    raise QuantityError("unable to parse quantity's suffix")


def _ceil_div_pow10(magnitude: int, places: int) -> int:
    """``ceil(magnitude / 10**places)`` for a positive magnitude, without building 10**places when it is
    certainly larger (then the answer is 1: the kubelet rounds any non-zero amount up to 1n)."""
    # magnitude < 2**bit_length <= 8**places < 10**places
    if magnitude.bit_length() <= 3 * places:
        return 1
    return -(-magnitude // 10**places)


def _exact(coefficient: int, exponent: int) -> int | Fraction | HugeValue:
    """The exact value ``coefficient * 10**exponent``; a :class:`HugeValue` where it would be too big.

    ``exponent`` is at least ``Nano`` here (both parse paths guarantee it), so only large positive
    exponents can be expensive; their size is estimated from bit lengths before anything is built.
    """
    if exponent < 0:
        return Fraction(coefficient, 10**-exponent)
    if coefficient == 0:
        return 0
    # log2(10) < 3.3220: an upper bound on the bits of 10**exponent.
    if abs(coefficient).bit_length() + exponent * 33220 // 10000 + 1 <= _MAX_EXACT_BITS:
        return coefficient * 10**exponent
    digits = tuple(int(d) for d in str(abs(coefficient)))
    return HugeValue((0 if coefficient > 0 else 1, digits, exponent))


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
        return Quantity(int(value), quantity.int64, quantity.text, quantity.saturated)
    return quantity


def _parse(text: str) -> Quantity:
    if not text:
        raise QuantityError(_FORMAT_WRONG)
    if text == "0":
        return Quantity(0, 0, text)
    positive, value, num, denom, suffix = _split(text)
    if len(num) + len(denom) > MAX_QUANTITY_DIGITS:
        raise QuantityError(f"the number {_TOO_MANY_DIGITS}")
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
        # int32 arithmetic, as in Go: "1.5e-2147483648" wraps to a huge positive scale.
        scale = _int32(scale - len(denom))
        if scale >= _NANO:
            digits = int(num + denom)  # at most 18 digits: precision >= 0
            amount = digits * mantissa
            if amount <= MAX_INT64:
                signed = amount if positive else -amount
                return Quantity(_exact(signed, scale), _int64_amount(signed, scale), text)

    # inf.Dec path: the written digits with a scale, rounded up to nano; BinarySI capped at MaxInt64.
    if value.lstrip("+-") == ".":
        raise QuantityError("unable to parse quantity's numeric value")
    magnitude = int(num + denom)
    if base == 10:
        # amount.SetScale(amount.Scale() + Scale(exponent).infScale()), all int32.
        dec_scale = _int32(len(denom) + _int32(-exponent))
    else:
        magnitude <<= exponent
        dec_scale = len(denom)
    if magnitude != 0 and dec_scale > -_NANO:
        magnitude = _ceil_div_pow10(magnitude, dec_scale + _NANO)
        dec_scale = -_NANO
    saturated = fmt == "BinarySI" and Fraction(magnitude, 10**dec_scale) > MAX_INT64
    if saturated:
        magnitude, dec_scale = MAX_INT64, 0
    return Quantity(_exact(magnitude if positive else -magnitude, -dec_scale), None, text, saturated)


def _int64_amount(value: int, scale: int) -> int | None:
    """Mirror ``int64Amount.AsInt64``: negative scales fail, positive ones must not overflow."""
    if scale == 0:
        return value
    if scale < 0:
        return None  # even for a zero value ("0.0"), as in Go
    if value == 0:
        return 0
    if scale > _MAX_INT64_FACTORS:
        # Any non-zero value times 10**19 is beyond int64: stop before building 10**scale.
        return None
    result = value * 10**scale
    if -(1 << 63) <= result <= MAX_INT64:
        return result
    return None


def as_int64(quantity: Quantity) -> int | None:
    """``Quantity.AsInt64``: the int64 value, or ``None`` where the kubelet's conversion fails."""
    return quantity.int64


def _shown(value: object) -> str:
    """``repr`` of a value for a message, shortened: hostile input must not be echoed in full."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= _TEN_TO_MAX_DIGITS:
        return f"<an integer of more than {MAX_QUANTITY_DIGITS} digits>"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:40]}...{text[-10:]}"


def quantity_from_json(value: object, path: str) -> Quantity:
    """Decode a quantity the way ``Quantity.UnmarshalJSON`` does (strings and bare JSON numbers)."""
    if isinstance(value, bool) or value is None:
        raise InputError(path, "must be a quantity string or an integer")
    if isinstance(value, int):
        if abs(value) >= _TEN_TO_MAX_DIGITS:
            # Checked before str(): Python refuses to print such an int (and it would be slow).
            raise InputError(path, f"the integer {_TOO_MANY_DIGITS}")
        text = str(value)
    elif isinstance(value, float):
        text = repr(value) if not value.is_integer() else str(int(value))
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InputError(path, "must be a quantity string or an integer")
    try:
        quantity = parse_k8s_quantity(text)
    except QuantityError as exc:
        raise InputError(path, f"invalid quantity {_shown(value)}: {exc}") from None
    if isinstance(quantity.value, HugeValue):
        return Quantity(quantity.value.at(path), quantity.int64, quantity.text, quantity.saturated)
    return quantity


def parse_quantity(value: str | int, path: str) -> int:
    """Parse a scenario quantity (``"1Gi"``, ``"1536Mi"``, ``68719476736``) into whole bytes.

    Used for machine and configuration fields, where only a non-negative whole number of bytes that
    fits the kubelet's int64 makes sense; anything else that parses is an input error here.
    """
    quantity = quantity_from_json(value, path)
    amount = quantity.value
    if amount < 0:
        raise InputError(path, f"{_shown(value)} must not be negative")
    if quantity.saturated or isinstance(amount, HugeValue) or amount > MAX_INT64:
        raise InputError(
            path, f"{_shown(value)} is larger than the kubelet can hold (int64: at most {MAX_INT64} bytes)"
        )
    if isinstance(amount, Fraction):
        raise InputError(path, f"{_shown(value)} is not a whole number of bytes")
    return amount


def signed_bytes(value: str | int, path: str) -> int:
    """``Quantity.Value()`` of a configuration field (``kubeReserved``, ``systemReserved``): any sign,
    fractions rounded up (``"500m"`` -> 1), and an :class:`InputError` naming the field beyond int64,
    where Go's ``Value()`` would return the low bits of a big integer.
    """
    quantity = quantity_from_json(value, path)
    amount = quantity.value
    if quantity.saturated or isinstance(amount, HugeValue) or not -MAX_INT64 - 1 <= amount <= MAX_INT64:
        raise InputError(path, f"{_shown(value)} is beyond what the kubelet can hold (int64)")
    return math.ceil(amount)


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
