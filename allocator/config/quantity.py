"""``resource.Quantity`` as far as the kubelet's start-up error texts need it, and the memory resource names.

Quantities keep what the kubelet's ``resource.Quantity`` keeps for its error texts: the exact value,
the format (``BinarySI``, ``DecimalSI``, ``DecimalExponent``) and the int64 scale, so that sums print
as the kubelet prints them (``"1636Mi"``, ``{{43054530560 0} {<nil>}  BinarySI}``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from allocator.errors import InputError
from allocator.quantities import HugeValue, QuantityError, parse_k8s_quantity

MEMORY = "memory"
HUGEPAGES_PREFIX = "hugepages-"
BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

_BINARY_EXP = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_EXP = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL_EXP.items()}
# Beyond this a power of ten is never materialised (int64 holds 19 digits; Nano is -9).
_MAX_EXACT_SCALE = 400
_BINARY_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_NUMBER_RE = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?")


def is_hugepage(name: str) -> bool:
    """A ``hugepages-<size>`` resource name (kubelet ``corehelper.IsHugePageResourceName``)."""
    return name.startswith(HUGEPAGES_PREFIX)


@dataclass(frozen=True, slots=True)
class GoQuantity:
    """A ``resource.Quantity``: exact ``value``, its ``fmt`` and the ``int64Amount`` (value, scale)."""

    value: Fraction
    fmt: str
    i_value: int = 0
    i_scale: int = 0

    @classmethod
    def zero(cls, fmt: str = DECIMAL_SI) -> GoQuantity:
        return cls(Fraction(0), fmt)

    @classmethod
    def from_bytes(cls, amount: int, fmt: str = BINARY_SI) -> GoQuantity:
        """``resource.NewQuantity(amount, fmt)``."""
        return cls(Fraction(amount), fmt, amount, 0)

    @classmethod
    def parse(cls, text: str) -> GoQuantity:
        """``resource.ParseQuantity``; raises ``QuantityError`` with the kubelet's text."""
        parsed = parse_k8s_quantity(text)
        match = _NUMBER_RE.match(text)
        assert match is not None
        suffix = text[match.end() :]
        denom = match.group(2) or ""
        if suffix in _BINARY_EXP:
            fmt = BINARY_SI
            scale = 0
        elif suffix in _DECIMAL_EXP:
            fmt = DECIMAL_SI
            scale = _DECIMAL_EXP[suffix] - len(denom)
        else:
            fmt = DECIMAL_EXPONENT
            scale = int(suffix[1:]) - len(denom)
        # int64Amount: the value at that scale when it is a whole number there (the fast path).
        if isinstance(parsed.value, HugeValue) or abs(scale) > _MAX_EXACT_SCALE:
            # Past any amount a node could hold: never build 10**scale (an 11-byte "1e40000000" would
            # cost minutes of CPU). The kubelet would carry it as an inf.Dec; we refuse it up front.
            raise QuantityError(f"quantity {text[:40]!r} is too large to compute with")
        scaled = parsed.value / (Fraction(10) ** scale)
        if fmt == BINARY_SI or scaled.denominator != 1:
            scale = 0
            scaled = parsed.value
        i_value = int(scaled) if scaled.denominator == 1 else 0
        return cls(parsed.value, fmt, i_value, scale)

    def add(self, other: GoQuantity) -> GoQuantity:
        """``Quantity.Add``: a zero receiver takes the addend's format."""
        fmt = other.fmt if self.value == 0 else self.fmt
        # int64Amount.Add: keep the smaller scale; a zero side takes the other's (value, scale).
        if other.i_value == 0:
            iv, isc = self.i_value, self.i_scale
        elif self.i_value == 0:
            iv, isc = other.i_value, other.i_scale
        elif self.i_scale == other.i_scale:
            iv, isc = self.i_value + other.i_value, self.i_scale
        elif self.i_scale > other.i_scale:
            iv, isc = self.i_value * 10 ** (self.i_scale - other.i_scale) + other.i_value, other.i_scale
        else:
            iv, isc = self.i_value + other.i_value * 10 ** (other.i_scale - self.i_scale), self.i_scale
        return GoQuantity(self.value + other.value, fmt, iv, isc)

    def __str__(self) -> str:
        """``Quantity.String``: the canonical form in the quantity's format."""
        return canonical(self.value, self.fmt)

    def go_struct(self) -> str:
        """``%v`` of a ``resource.Quantity`` value whose string form is not cached."""
        return f"{{{{{self.i_value} {self.i_scale}}} {{<nil>}}  {self.fmt}}}"


def canonical(value: Fraction, fmt: str) -> str:
    """``Quantity.CanonicalizeBytes`` for an exact value."""
    if value == 0:
        return "0"
    if fmt == BINARY_SI:
        if -1024 < value < 1024 or value.denominator != 1:
            fmt = DECIMAL_SI
        else:
            amount = int(value)
            exponent = 0
            while amount % 1024 == 0 and exponent < 6:
                amount //= 1024
                exponent += 1
            return f"{amount}{_BINARY_SUFFIX[exponent]}"
    # Decimal: mantissa * 10^exponent with the factors of ten removed, exponent a multiple of 3.
    exponent = 0
    while value.denominator != 1:
        value *= 10
        exponent -= 1
    mantissa = int(value)
    while mantissa != 0 and mantissa % 10 == 0:
        mantissa //= 10
        exponent += 1
    shift = exponent % 3
    mantissa *= 10**shift
    exponent -= shift
    if fmt == DECIMAL_SI and exponent in _DECIMAL_SUFFIX:
        return f"{mantissa}{_DECIMAL_SUFFIX[exponent]}"
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def quantity_of(value: object, path: str) -> GoQuantity:
    """A quantity from a document: a string as ``ParseQuantity`` reads it, an integer as bytes.

    Integer bytes are the scenario format's normal form; the kubelet examples made from them print
    as ``BinarySI`` (``"2Gi"``), so that is the format given to them.
    """
    if isinstance(value, bool) or value is None:
        raise InputError(path, "must be a quantity string or an integer")
    if isinstance(value, int):
        return GoQuantity.from_bytes(value)
    if isinstance(value, str):
        try:
            return GoQuantity.parse(value.strip())
        except QuantityError as err:
            raise InputError(path, f"invalid quantity {value!r}: {err}") from None
    raise InputError(path, "must be a quantity string or an integer")
