"""Eviction thresholds and node-allocatable arithmetic.

Mirrors ``eviction.ParseThresholdConfig``, ``cadvisor.CapacityFromMachineInfo`` and the container
manager's ``hardEvictionReservation``, ``GetNodeAllocatableReservation`` and ``validateNodeAllocatable``.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from allocator.config.quantity import BINARY_SI, DECIMAL_SI, MEMORY, GoQuantity
from allocator.config.start_config import NodeInfo, StartConfig
from allocator.errors import ConfigError
from allocator.gotext import go_quote
from allocator.quantities import QuantityError

# v1beta1 SetDefaults_KubeletConfiguration: the Linux hard-eviction defaults.
DEFAULT_EVICTION_HARD: dict[str, str] = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
    "imagefs.available": "15%",
    "imagefs.inodesFree": "5%",
}


# pkg/kubelet/eviction/api: every signal the kubelet knows.
EVICTION_SIGNALS = frozenset(
    {
        "memory.available",
        "allocatableMemory.available",
        "nodefs.available",
        "nodefs.inodesFree",
        "imagefs.available",
        "imagefs.inodesFree",
        "containerfs.available",
        "containerfs.inodesFree",
        "pid.available",
    }
)


def _float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


@dataclass(frozen=True, slots=True)
class Threshold:
    """An ``evictionapi.Threshold`` of ``evictionHard``: a quantity or a float32 percentage."""

    signal: str
    quantity: GoQuantity | None
    percentage: float


def effective_eviction_hard(cfg: StartConfig) -> dict[str, str]:
    """``evictionHard`` after v1beta1 defaulting: the Linux defaults when unset, merged on request."""
    if cfg.eviction_hard is None:
        return dict(DEFAULT_EVICTION_HARD)
    if cfg.merge_default_eviction_settings:
        merged = dict(cfg.eviction_hard)
        for key, value in DEFAULT_EVICTION_HARD.items():
            merged.setdefault(key, value)
        return merged
    return dict(cfg.eviction_hard)


def parse_threshold_config(eviction_hard: Mapping[str, str]) -> list[Threshold]:
    """``eviction.ParseThresholdConfig`` for the hard thresholds; raises ``ValueError`` with its text."""
    thresholds: list[Threshold] = []
    for signal, val in eviction_hard.items():
        if signal not in EVICTION_SIGNALS:
            raise ValueError(f"unsupported eviction signal {signal}")
        if val.endswith("%"):
            if val in ("0%", "100%"):
                continue  # ignored by the kubelet
            try:
                parsed = float(val.rstrip("%"))
            except ValueError:
                raise ValueError(
                    f"strconv.ParseFloat: parsing {go_quote(val.rstrip('%'))}: invalid syntax"
                ) from None
            percentage = _float32(_float32(parsed) / 100)
            if percentage < 0:
                raise ValueError(f"eviction percentage threshold {signal} must be >= 0%: {val}")
            if percentage > 1:
                raise ValueError(f"eviction percentage threshold {signal} must be <= 100%: {val}")
            thresholds.append(Threshold(signal, None, percentage))
            continue
        try:
            q = GoQuantity.parse(val)
        except QuantityError as err:
            raise ValueError(str(err)) from None
        if q.value <= 0:
            raise ValueError(f"eviction threshold {signal} must be positive: {q}")
        thresholds.append(Threshold(signal, q, 0.0))
    return thresholds


def machine_capacity(nodes: Sequence[NodeInfo]) -> dict[str, GoQuantity]:
    """``cadvisor.CapacityFromMachineInfo``: cpu, memory and the machine's hugepage pools."""
    capacity: dict[str, GoQuantity] = {
        "cpu": GoQuantity.from_bytes(sum(n.cpus for n in nodes), DECIMAL_SI),
        MEMORY: GoQuantity.from_bytes(sum(n.memory for n in nodes), BINARY_SI),
    }
    pools: dict[str, int] = {}
    for node in nodes:
        for name, amount in node.hugepages.items():
            pools[name] = pools.get(name, 0) + amount
    for name, amount in pools.items():
        capacity[name] = GoQuantity.from_bytes(amount, BINARY_SI)
    return capacity


def hard_eviction_reservation(
    thresholds: Sequence[Threshold], capacity: Mapping[str, GoQuantity]
) -> dict[str, GoQuantity]:
    """Kubelet ``hardEvictionReservation``: only ``memory.available`` has a capacity here."""
    out: dict[str, GoQuantity] = {}
    for t in thresholds:
        if t.signal != "memory.available":
            continue
        if t.quantity is not None:
            out[MEMORY] = t.quantity
        else:
            cap = capacity.get(MEMORY, GoQuantity.zero())
            # int64(float64(capacity) * float64(float32 percentage)), truncated like Go.
            out[MEMORY] = GoQuantity.from_bytes(int(float(cap.value) * t.percentage), BINARY_SI)
    return out


def node_allocatable_reservation(
    capacity: Mapping[str, GoQuantity],
    system_reserved: Mapping[str, GoQuantity],
    kube_reserved: Mapping[str, GoQuantity],
    eviction: Mapping[str, GoQuantity],
) -> dict[str, GoQuantity]:
    """``containerManagerImpl.GetNodeAllocatableReservation``: zero sums are dropped."""
    result: dict[str, GoQuantity] = {}
    for name in capacity:
        value = GoQuantity.zero()
        for source in (system_reserved, kube_reserved, eviction):
            # A missing key is a zero Quantity with no format: it still hands its (empty) format
            # to a zero sum, which only matters until something non-zero is added.
            value = value.add(source.get(name, GoQuantity(Fraction(0), "")))
        if value.value != 0:
            result[name] = value
    return result


def validate_node_allocatable(capacity: Mapping[str, GoQuantity], nar: Mapping[str, GoQuantity]) -> None:
    """``containerManagerImpl.validateNodeAllocatable``: no reservation above capacity."""
    errors = []
    for name, value in nar.items():
        cap = capacity.get(name, GoQuantity(Fraction(0), ""))
        if cap.value - value.value < 0:
            errors.append(
                f"Resource {go_quote(name)} has a reservation of {value.go_struct()} but capacity of "
                f"{cap.go_struct()}. Expected capacity >= reservation."
            )
    if errors:
        error = "invalid Node Allocatable configuration. " + " ".join(errors)
        raise ConfigError("node_allocatable", error, error, "kubelet")
