"""NUMA node masks as plain Python ints (bit ``i`` set <=> NUMA node with id ``i``).

Mirrors the kubelet's ``pkg/kubelet/cm/topologymanager/bitmask`` package. The kubelet's ``bitMask`` is a
``uint64``; here a mask is an ``int`` so that the hot loops of hint calculation and merging do no
allocation beyond the integer itself. Like the kubelet, ids outside 0-63 are refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import combinations

MAX_BITS = 64
"""The kubelet's bit mask is a uint64: NUMA ids 0..63 only."""


def mask_of(ids: Iterable[int]) -> int:
    """The mask with exactly the bits ``ids`` set (kubelet ``bitmask.NewBitMask``).

    Raises ``ValueError`` with the kubelet's text for an id outside 0-63.
    """
    mask = 0
    for i in ids:
        if i < 0 or i >= MAX_BITS:
            raise ValueError("bit number must be in range 0-63")
        mask |= 1 << i
    return mask


_IDS_CACHE: dict[int, tuple[int, ...]] = {}
_IDS_CACHE_LIMIT = 1 << 16


def ids_of(mask: int) -> list[int]:
    """The set bits of ``mask`` in ascending order (kubelet ``BitMask.GetBits``).

    Hint lists are rendered mask by mask (65,535 of them on a 16-node machine), so the bit lists
    of masks over the low ids are cached.
    """
    cached = _IDS_CACHE.get(mask)
    if cached is not None:
        return list(cached)
    ids: list[int] = []
    rest = mask
    while rest:
        low = rest & -rest
        ids.append(low.bit_length() - 1)
        rest ^= low
    if mask < _IDS_CACHE_LIMIT or len(_IDS_CACHE) < _IDS_CACHE_LIMIT:
        _IDS_CACHE[mask] = tuple(ids)
    return ids


def mask_count(mask: int) -> int:
    """Number of bits set (kubelet ``BitMask.Count``)."""
    return mask.bit_count()


def is_set(mask: int, bit: int) -> bool:
    """Whether ``bit`` is set (kubelet ``BitMask.IsSet``; out-of-range bits are never set)."""
    if bit < 0 or bit >= MAX_BITS:
        return False
    return bool(mask >> bit & 1)


def any_set(mask: int, bits: Iterable[int]) -> bool:
    """Whether any of ``bits`` is set (kubelet ``BitMask.AnySet``)."""
    return any(is_set(mask, b) for b in bits)


def is_less_than(a: int, b: int) -> bool:
    """Kubelet ``BitMask.IsLessThan``: a plain unsigned comparison, i.e. more lower-numbered bits wins."""
    return a < b


def is_narrower_than(a: int, b: int) -> bool:
    """Kubelet ``BitMask.IsNarrowerThan``.

    ``a`` is narrower when it has fewer bits set; with the same count, the numerically smaller mask
    (the one with more lower-numbered bits) is narrower.
    """
    ca = a.bit_count()
    cb = b.bit_count()
    if ca == cb:
        return a < b
    return ca < cb


def mask_string(mask: int) -> str:
    """Kubelet ``BitMask.String``: binary, zero-padded to a multiple of two digits (at least two)."""
    grouping = 2
    shift = MAX_BITS - grouping
    while shift > 0:
        # The kubelet compares with '>' (not '>='): a mask equal to 1<<shift gets the shorter width.
        if mask > (1 << shift):
            return format(mask, f"0{shift + grouping}b")
        shift -= grouping
    return format(mask, f"0{grouping}b")


@lru_cache(maxsize=64)
def all_masks(ids: tuple[int, ...]) -> tuple[int, ...]:
    """Every non-empty mask over ``ids`` in ``bitmask.IterateBitMasks`` order, cached per id tuple.

    All 1-bit masks first, then all 2-bit masks, and so on; within one size, in lexicographic order
    of positions in ``ids`` (for ascending ids: lexicographic order of the id lists).
    """
    bits = [1 << i for i in ids]
    for i in ids:
        if i < 0 or i >= MAX_BITS:
            raise ValueError("bit number must be in range 0-63")
    out: list[int] = []
    for size in range(1, len(bits) + 1):
        for combo in combinations(bits, size):
            out.append(sum(combo))
    return tuple(out)


def iterate_masks(ids: Iterable[int]) -> Iterator[int]:
    """Kubelet ``bitmask.IterateBitMasks``: yields every non-empty mask over ``ids`` in its order."""
    return iter(all_masks(tuple(ids)))
