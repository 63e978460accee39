"""What the two Go printers of a checkpoint share: go-spew's dump (for the checksum) and ``encoding/json``.

Both write a nil map / slice / pointer as one word, a slice as ``[a b]`` / ``[a,b]``, a map with its keys
in sorted order, and a struct as its named fields in declaration order; only the punctuation differs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# state.MemoryTable's fields in declaration order: (Go field, JSON name, attribute of MemoryTable).
MEMORY_TABLE_FIELDS = (
    ("TotalMemSize", "total", "total"),
    ("SystemReserved", "systemReserved", "system_reserved"),
    ("Allocatable", "allocatable", "allocatable"),
    ("Reserved", "reserved", "reserved"),
    ("Free", "free", "free"),
)


def bytewise(item: tuple[str, Any]) -> bytes:
    """Sort key of a string-keyed map entry: Go compares strings byte by byte (UTF-8)."""
    return item[0].encode()


@dataclass(frozen=True, slots=True)
class GoPrinter:
    """The punctuation one Go printer uses for nil, slices, maps and structs."""

    nil: str
    sep: str
    map_open: str
    map_close: str

    def seq(self, values: Sequence[Any] | None, render: Callable[[Any], str] = str) -> str:
        """A slice; ``None`` is a nil slice."""
        if values is None:
            return self.nil
        return "[" + self.sep.join(render(v) for v in values) + "]"

    def sorted_map(
        self,
        items: Mapping[Any, Any] | None,
        render_key: Callable[[Any], str],
        render_value: Callable[[Any], str],
        order: Callable[[tuple[Any, Any]], Any] = bytewise,
    ) -> str:
        """A map with its entries in ``order``; ``None`` is a nil map."""
        if items is None:
            return self.nil
        entries = sorted(items.items(), key=order)
        return (
            self.map_open
            + self.sep.join(f"{render_key(k)}:{render_value(v)}" for k, v in entries)
            + self.map_close
        )

    def struct(self, fields: Iterable[tuple[str, str]]) -> str:
        """A struct value: ``{name:value ...}`` with the names as this printer writes them."""
        return "{" + self.sep.join(f"{name}:{value}" for name, value in fields) + "}"


SPEW = GoPrinter(nil="<nil>", sep=" ", map_open="map[", map_close="]")
JSON = GoPrinter(nil="null", sep=",", map_open="{", map_close="}")
