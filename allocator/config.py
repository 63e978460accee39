"""Where the kubelet refuses to start: its resource-manager start-up path, check by check.

Mirrors, in the kubelet's order (see ``tests/data/kubelet-examples/config-errors/README.md``):

- ``load_config``: v1beta1 defaulting (``evictionHard`` default and merge; a locked feature gate set
  to its opposite panics);
- ``validate_config``: ``pkg/kubelet/apis/config/validation.ValidateKubeletConfiguration`` (topology
  manager policy and scope names, ``validateReservedMemoryConfiguration``);
- ``parse_kube_reserved`` / ``parse_system_reserved``: ``cmd/kubelet/app.parseResourceList``;
- ``eviction_thresholds``: ``eviction.ParseThresholdConfig`` for ``evictionHard``;
- ``topology_manager``: ``topologymanager.NewManager`` (``allocator.topology_manager.new_manager``);
- ``memory_manager``: ``memorymanager.NewManager`` (``validateReservedMemory``, ``convertReserved``,
  ``NewPolicyStatic``) against ``containerManagerImpl.GetNodeAllocatableReservation``;
- ``memory_manager_start``: a restart over the previous run's checkpoint (``previous_run``);
- ``node_allocatable``: ``containerManagerImpl.validateNodeAllocatable``.

CPU-manager stages are outside this module: they are assumed to pass.

Quantities keep what the kubelet's ``resource.Quantity`` keeps for its error texts: the exact value,
the format (``BinarySI``, ``DecimalSI``, ``DecimalExponent``) and the int64 scale, so that sums print
as the kubelet prints them (``"1636Mi"``, ``{{43054530560 0} {<nil>}  BinarySI}``).
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from allocator.errors import ConfigError, InputError
from allocator.gotext import go_quote
from allocator.quantities import QuantityError, parse_k8s_quantity
from allocator.topology_manager import new_manager

MEMORY = "memory"
HUGEPAGES_PREFIX = "hugepages-"
BINARY_SI = "BinarySI"
DECIMAL_SI = "DecimalSI"
DECIMAL_EXPONENT = "DecimalExponent"

POLICY_STATIC = "Static"
POLICY_NONE = "None"
POLICY_BEST_EFFORT = "BestEffort"

TOPOLOGY_POLICIES = ("none", "best-effort", "restricted", "single-numa-node")
TOPOLOGY_SCOPES = ("container", "pod")

STATE_FILE = "/var/lib/kubelet/memory_manager_state"
_CONFIG_PATH_PLACEHOLDER = "<%s of the *KubeletConfiguration>"

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

# Feature gates that v1.36 locks to their default (GA): setting them to the opposite makes the
# kubelet panic while defaulting its configuration.
LOCKED_FEATURE_GATES: dict[str, bool] = {
    # Both went GA in v1.32 and are locked to true (the first is pinned by err-locked-feature-gate).
    "TopologyManagerPolicyOptions": True,
    "MemoryManager": True,
}

# cmd/kubelet/app.parseResourceList: the resources kube/system reserved may name.
RESERVABLE_RESOURCES = ("cpu", "memory", "ephemeral-storage", "pid")

_BINARY_EXP = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_EXP = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_DECIMAL_SUFFIX = {v: k for k, v in _DECIMAL_EXP.items()}
_BINARY_SUFFIX = {0: "", 1: "Ki", 2: "Mi", 3: "Gi", 4: "Ti", 5: "Pi", 6: "Ei"}
_NUMBER_RE = re.compile(r"[+-]?([0-9]*)(?:\.([0-9]*))?")


# --- resource.Quantity, as far as the error texts need it -------------------------------------


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


def _float32(x: float) -> float:
    return struct.unpack("f", struct.pack("f", x))[0]


# --- the configuration under test ---------------------------------------------------------------


@dataclass
class NodeInfo:
    """A NUMA node as cadvisor reports it: id, memory and hugepage pools (``hugepages-<size>``)."""

    id: int
    memory: int
    hugepages: dict[str, int]
    cpus: int = 0


@dataclass
class StartConfig:
    """The settings the start-up path reads, with the kubelet's own defaults already applied."""

    nodes: list[NodeInfo]
    distances: Mapping[int, Any] | None
    memory_manager_policy: str
    topology_manager_policy: str
    topology_manager_scope: str
    topology_manager_policy_options: dict[str, str]
    reserved_memory: list[tuple[int, dict[str, GoQuantity]]]
    kube_reserved: dict[str, str]
    system_reserved: dict[str, str]
    eviction_hard: dict[str, str] | None
    merge_default_eviction_settings: bool = False
    feature_gates: dict[str, bool] = field(default_factory=dict)
    node_allocatable_override: dict[str, GoQuantity] | None = None
    previous: StartConfig | None = None


@dataclass
class StartOutcome:
    """What taking a configuration through the start-up path gives (the config-errors ``expect``)."""

    stages_passed: list[str] | None
    failure: ConfigError | None
    capacity: dict[str, GoQuantity] | None = None
    node_allocatable_reservation: dict[str, GoQuantity] | None = None
    system_reserved_memory: dict[int, dict[str, int]] | None = None
    machine_state: dict[str, dict[str, dict[str, int]]] | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"outcome": "ok" if self.ok else "error", "stages_passed": self.stages_passed}
        if self.failure is not None:
            out["failure"] = self.failure.as_dict()
        if self.capacity is not None:
            out["capacity"] = {k: str(v) for k, v in sorted(self.capacity.items())}
        if self.node_allocatable_reservation is not None:
            out["node_allocatable_reservation"] = {
                k: str(v) for k, v in sorted(self.node_allocatable_reservation.items())
            }
        if self.machine_state is not None:
            out["machine_state"] = self.machine_state
        return out


class ConfigPanic(ConfigError):
    """The kubelet panics at this stage (``kubelet_error`` is ``panic: <value>``)."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(super().as_dict())
        out["panic"] = True
        return out


def _hugepage_key(name: str) -> bool:
    return name.startswith(HUGEPAGES_PREFIX)


def _string_map(value: object, path: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InputError(path, "expected an object")
    out: dict[str, str] = {}
    for key, item in value.items():
        if isinstance(item, bool):
            out[str(key)] = "true" if item else "false"
        elif isinstance(item, int):
            out[str(key)] = str(item)
        elif isinstance(item, str):
            out[str(key)] = item
        else:
            raise InputError(f"{path}.{key}", "expected a string")
    return out


def _parse_nodes(machine: Mapping[str, Any]) -> list[NodeInfo]:
    raw_nodes = machine.get("numa_nodes")
    if not isinstance(raw_nodes, list) or not raw_nodes:
        raise InputError("machine.numa_nodes", "a machine needs at least one NUMA node")
    nodes = []
    for index, raw in enumerate(raw_nodes):
        path = f"machine.numa_nodes[{index}]"
        if not isinstance(raw, Mapping) or "id" not in raw:
            raise InputError(path, "expected an object with an id")
        memory = quantity_of(raw.get("memory", 0), f"{path}.memory").value
        hugepages = {
            k: int(quantity_of(v, f"{path}.{k}").value)
            for k, v in raw.items()
            if isinstance(k, str) and _hugepage_key(k)
        }
        cpus = raw.get("cpus")
        nodes.append(
            NodeInfo(int(raw["id"]), int(memory), hugepages, len(cpus) if isinstance(cpus, list) else 0)
        )
    return nodes


def _parse_distances(machine: Mapping[str, Any], nodes: Sequence[NodeInfo]) -> dict[int, Any] | None:
    raw = machine.get("distances")
    if raw is None:
        return None
    if isinstance(raw, Mapping):
        return {int(k): v for k, v in raw.items()}
    if isinstance(raw, list):
        # Row i belongs to the i-th node and is indexed by NUMA id, as the kubelet reads it.
        return {node.id: row for node, row in zip(nodes, raw, strict=False)}
    raise InputError("machine.distances", "expected an array of rows")


def _parse_reserved_memory(value: object, path: str) -> list[tuple[int, dict[str, GoQuantity]]]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InputError(path, "expected an array")
    out = []
    for index, raw in enumerate(value):
        entry_path = f"{path}[{index}]"
        if not isinstance(raw, Mapping):
            raise InputError(entry_path, "expected an object")
        numa = raw.get("numa_node", raw.get("numaNode"))
        if isinstance(numa, bool) or not isinstance(numa, int):
            raise InputError(f"{entry_path}.numa_node", "expected an integer")
        limits = raw.get("limits") or {}
        if not isinstance(limits, Mapping):
            raise InputError(f"{entry_path}.limits", "expected an object")
        out.append((numa, {str(k): quantity_of(v, f"{entry_path}.limits.{k}") for k, v in limits.items()}))
    return out


def _kubelet_section(
    kubelet: Mapping[str, Any], nodes: list[NodeInfo], distances: Any, scenario: bool, path: str = "kubelet"
) -> StartConfig:
    def text(key: str, default: str) -> str:
        value = kubelet.get(key, default)
        if value is None:
            return default
        if not isinstance(value, str):
            raise InputError(f"{path}.{key}", "expected a string")
        return value

    gates_raw = kubelet.get("feature_gates") or {}
    if not isinstance(gates_raw, Mapping):
        raise InputError(f"{path}.feature_gates", "expected an object")
    eviction = kubelet.get("eviction_hard")
    nar = kubelet.get("node_allocatable_reservation")
    return StartConfig(
        nodes=nodes,
        distances=distances,
        # The scenario format defaults to Static; a KubeletConfiguration (v1beta1) to None.
        memory_manager_policy=text("memory_manager_policy", POLICY_STATIC if scenario else POLICY_NONE),
        topology_manager_policy=text("topology_manager_policy", "none"),
        topology_manager_scope=text("topology_manager_scope", "container"),
        topology_manager_policy_options=_string_map(
            kubelet.get("topology_manager_policy_options"), f"{path}.topology_manager_policy_options"
        ),
        reserved_memory=_parse_reserved_memory(kubelet.get("reserved_memory"), f"{path}.reserved_memory"),
        kube_reserved=_string_map(kubelet.get("kube_reserved"), f"{path}.kube_reserved"),
        system_reserved=_string_map(kubelet.get("system_reserved"), f"{path}.system_reserved"),
        eviction_hard=None if eviction is None else _string_map(eviction, f"{path}.eviction_hard"),
        merge_default_eviction_settings=bool(kubelet.get("merge_default_eviction_settings", False)),
        feature_gates={str(k): bool(v) for k, v in gates_raw.items()},
        node_allocatable_override=None
        if nar is None
        else {str(k): quantity_of(v, f"{path}.node_allocatable_reservation.{k}") for k, v in nar.items()},
    )


def start_config_from_document(doc: Mapping[str, Any]) -> StartConfig:
    """The start-up settings of a document with ``machine`` and ``kubelet`` (and ``previous_run``).

    A scenario document (one with ``steps``) takes the scenario format's defaults (memory manager
    ``Static``, node allocatable = the reserved memory unless kube/system reserved or eviction say
    otherwise); any other document is a ``KubeletConfiguration`` and takes the v1beta1 defaults
    (memory manager ``None``, the Linux ``evictionHard`` defaults), as in the config-errors examples.
    """
    machine = doc.get("machine")
    if not isinstance(machine, Mapping):
        raise InputError("machine", "required")
    kubelet = doc.get("kubelet") or {}
    if not isinstance(kubelet, Mapping):
        raise InputError("kubelet", "expected an object")
    scenario = "steps" in doc
    nodes = _parse_nodes(machine)
    distances = _parse_distances(machine, nodes)
    config = _kubelet_section(kubelet, nodes, distances, scenario)
    if (
        scenario
        and config.node_allocatable_override is None
        and not ("kube_reserved" in kubelet or "system_reserved" in kubelet or "eviction_hard" in kubelet)
    ):
        # The vectors' convention: node allocatable is the per-resource sum of reserved memory.
        config.node_allocatable_override = _reserved_totals(config.reserved_memory)
    previous = doc.get("previous_run")
    if isinstance(previous, Mapping):
        config.previous = _kubelet_section(previous, nodes, distances, scenario, "previous_run")
    return config


# --- stages -------------------------------------------------------------------------------------


def _validate_config(cfg: StartConfig) -> None:
    """``ValidateKubeletConfiguration``: the resource-manager checks, aggregated like the kubelet."""
    errors: list[str] = []
    if cfg.topology_manager_policy not in TOPOLOGY_POLICIES:
        choices = "[" + " ".join(go_quote(p) for p in TOPOLOGY_POLICIES) + "]"
        errors.append(
            "invalid configuration: topologyManagerPolicy (--topology-manager-policy) "
            f"{go_quote(cfg.topology_manager_policy)} must be one of: {choices}"
        )
    if cfg.topology_manager_scope not in TOPOLOGY_SCOPES:
        errors.append(
            "invalid configuration: topologyManagerScope (--topology-manager-scope) "
            f'{go_quote(cfg.topology_manager_scope)} must be one of: "container", or "pod"'
        )
    errors.extend(validate_reserved_memory_configuration(cfg.reserved_memory))
    if errors:
        message = aggregate(errors)
        raise ConfigError(
            "validate_config",
            message,
            f"failed to validate kubelet configuration, error: {message}, path: {_CONFIG_PATH_PLACEHOLDER}",
            "kubelet.reserved_memory"
            if "reserved memory" in message or "limit type" in message
            else "kubelet",
        )


def aggregate(errors: Sequence[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message, or ``[a, b]`` without duplicates."""
    unique = list(dict.fromkeys(errors))
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def validate_reserved_memory_configuration(
    reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]],
) -> list[str]:
    """Kubelet ``validateReservedMemoryConfiguration``: supported type, non-zero, no duplicates.

    Within one entry the kubelet walks a Go map, so the order of several errors of one entry is
    random; here it is the document order.
    """
    errors: list[str] = []
    seen: dict[int, set[str]] = {}
    for numa, limits in reserved:
        types = seen.setdefault(numa, set())
        for name, q in limits.items():
            if not (name == MEMORY or _hugepage_key(name)):
                errors.append(
                    f"invalid configuration: the limit type {go_quote(name)} for NUMA node {numa} is not "
                    "supported, only [memory hugepages-<HugePageSize>] is accepted"
                )
            if q.value == 0:
                errors.append(
                    f"invalid configuration: reserved memory may not be zero for NUMA node {numa} "
                    f"and resource {go_quote(name)}"
                )
            if name in types:
                errors.append(
                    f"invalid configuration: the reserved memory has a duplicate value for NUMA node {numa} "
                    f"and resource {go_quote(name)}"
                )
            types.add(name)
    return errors


def parse_resource_list(values: Mapping[str, str], flag: str) -> dict[str, GoQuantity]:
    """``cmd/kubelet/app.parseResourceList`` for ``--kube-reserved`` / ``--system-reserved``."""
    stage = "parse_kube_reserved" if flag == "kube-reserved" else "parse_system_reserved"
    field_name = "kubelet.kube_reserved" if flag == "kube-reserved" else "kubelet.system_reserved"
    out: dict[str, GoQuantity] = {}
    for name, text in values.items():
        if name not in RESERVABLE_RESOURCES:
            error = f"cannot reserve {go_quote(name)} resource"
        else:
            try:
                q = GoQuantity.parse(text)
            except QuantityError as err:
                error = f"failed to parse quantity {go_quote(text)} for {go_quote(name)} resource: {err}"
            else:
                if q.value < 0:
                    error = f"resource quantity for {go_quote(name)} cannot be negative: {text}"
                else:
                    out[name] = q
                    continue
        raise ConfigError(
            stage, error, f"failed to run Kubelet: --{flag} value failed to parse: {error}", field_name
        )
    return out


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


def _reserved_totals(reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]]) -> dict[str, GoQuantity]:
    """``getTotalMemoryTypeReserved`` without the NUMA check: per type, the entry's quantity plus the
    running total (so the format of the latest non-zero entry wins)."""
    totals: dict[str, GoQuantity] = {}
    for _numa, limits in reserved:
        for name, q in limits.items():
            totals[name] = q.add(totals[name]) if name in totals else q
    return totals


def memory_manager_stage_error(error: str, field_name: str = "kubelet.reserved_memory") -> ConfigError:
    return ConfigError("memory_manager", error, f"failed to run Kubelet: {error}", field_name)


def validate_reserved_memory(
    numa_ids: Sequence[int],
    nar: Mapping[str, GoQuantity],
    reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]],
) -> None:
    """Kubelet ``validateReservedMemory``: known NUMA nodes, then per memory type the reserved total
    must equal node allocatable's reservation. Raises ``ConfigError`` at stage ``memory_manager``.

    The kubelet walks a Go map of types, so with several mismatches which one it reports is random;
    here the types of ``reservedMemory`` come first, in document order, then node allocatable's.
    """
    known = set(numa_ids)
    for numa, _limits in reserved:
        if numa not in known:
            raise memory_manager_stage_error(
                f"the reserved memory configuration references a NUMA node {numa} "
                "that does not exist on this machine"
            )
    totals = _reserved_totals(reserved)
    types = list(totals)
    for name in nar:
        if (name == MEMORY or _hugepage_key(name)) and name not in types:
            types.append(name)
    for name in types:
        allocatable = GoQuantity.zero().add(nar[name]) if name in nar else GoQuantity.zero()
        total = GoQuantity.zero().add(totals[name]) if name in totals else GoQuantity.zero()
        if allocatable.value != total.value:
            raise memory_manager_stage_error(
                f"the total amount {go_quote(str(total))} of type {go_quote(name)} is not equal to the value "
                f"{go_quote(str(allocatable))} determined by Node Allocatable feature"
            )


def system_reserved_memory(
    numa_ids: Sequence[int], reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]]
) -> dict[int, dict[str, int]]:
    """Kubelet ``convertReserved`` and the ``NewPolicyStatic`` check: bytes per node and type."""
    converted: dict[int, dict[str, int]] = {numa: {} for numa in numa_ids}
    for numa, limits in reserved:
        for name, q in limits.items():
            if q.value.denominator != 1 or abs(q.value) >= 1 << 63:
                raise memory_manager_stage_error("could not covert a variable of type Quantity to int64")
            converted[numa][name] = int(q.value)
    if sum(node.get(MEMORY, 0) for node in converted.values()) <= 0:
        raise memory_manager_stage_error("[memorymanager] you should specify the system reserved memory")
    return converted


def new_memory_manager(
    policy: str,
    numa_ids: Sequence[int],
    nar: Mapping[str, GoQuantity],
    reserved: Sequence[tuple[int, Mapping[str, GoQuantity]]],
) -> dict[int, dict[str, int]] | None:
    """Kubelet ``memorymanager.NewManager`` on Linux: the system-reserved bytes for Static, ``None``
    for the None policy (which never looks at ``reservedMemory``)."""
    if policy == POLICY_NONE:
        return None
    if policy == POLICY_STATIC:
        validate_reserved_memory(numa_ids, nar, reserved)
        return system_reserved_memory(numa_ids, reserved)
    if policy == POLICY_BEST_EFFORT:
        raise memory_manager_stage_error(
            'policy "BestEffort" is not available for platform "linux"', "kubelet.memory_manager_policy"
        )
    raise memory_manager_stage_error(f"unknown policy: {go_quote(policy)}", "kubelet.memory_manager_policy")


def initial_machine_state(
    nodes: Sequence[NodeInfo], reserved: Mapping[int, Mapping[str, int]]
) -> dict[str, Any]:
    """The Static policy's fresh machine state: memory allocatable excludes every hugepage pool."""
    state: dict[str, Any] = {}
    for node in sorted(nodes, key=lambda n: n.id):
        sys_reserved = reserved.get(node.id, {})
        tables: dict[str, dict[str, int]] = {}
        hugepages_total = sum(node.hugepages.values())
        mem_reserved = sys_reserved.get(MEMORY, 0)
        mem_alloc = node.memory - mem_reserved - hugepages_total
        tables[MEMORY] = {
            "total": node.memory,
            "system_reserved": mem_reserved,
            "allocatable": mem_alloc,
            "reserved": 0,
            "free": mem_alloc,
        }
        for name, total in sorted(node.hugepages.items()):
            reserved_hp = sys_reserved.get(name, 0)
            tables[name] = {
                "total": total,
                "system_reserved": reserved_hp,
                "allocatable": total - reserved_hp,
                "reserved": 0,
                "free": total - reserved_hp,
            }
        state[str(node.id)] = dict(sorted(tables.items()))
    return state


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


def _start_memory_manager(cfg: StartConfig, state: dict[str, Any] | None, policy: str) -> None:
    """``memoryManager.Start`` over the previous run's checkpoint (no assignments in it)."""
    prev = cfg.previous
    if prev is None:
        return
    prev_policy = prev.memory_manager_policy
    if prev_policy != policy:
        error = (
            f"could not restore state from checkpoint: [memorymanager] configured policy {go_quote(policy)} "
            f"differs from state checkpoint policy {go_quote(prev_policy)}, please drain this node and "
            f"delete the memory manager checkpoint file {go_quote(STATE_FILE)} before restarting Kubelet"
        )
        raise ConfigError("memory_manager_start", error, f"start memory manager error: {error}", "kubelet")
    if policy != POLICY_STATIC:
        return
    prev_reserved = system_reserved_memory([n.id for n in cfg.nodes], prev.reserved_memory)
    if initial_machine_state(cfg.nodes, prev_reserved) != state:
        error = "[memorymanager] the expected machine state is different from the real one"
        raise ConfigError(
            "memory_manager_start", error, f"start memory manager error: {error}", "kubelet.reserved_memory"
        )


def kubelet_start(cfg: StartConfig) -> StartOutcome:
    """Take a configuration through the kubelet's start-up path; the first failure ends it."""
    passed: list[str] = []
    outcome = StartOutcome(passed, None)
    try:
        # load_config: v1beta1 defaulting. A locked gate set to its opposite panics.
        for gate, locked in LOCKED_FEATURE_GATES.items():
            if gate in cfg.feature_gates and cfg.feature_gates[gate] != locked:
                error = (
                    "failed to merge global and in-flight KubeletConfiguration while setting defaults, "
                    f"error: cannot set feature gate {gate} to {str(not locked).lower()}, "
                    f"feature is locked to {str(locked).lower()}"
                )
                raise ConfigPanic("load_config", error, f"panic: {error}", "kubelet.feature_gates")
        passed.append("load_config")
        passed.append("feature_gates")  # unknown gates are only logged
        _validate_config(cfg)
        passed.append("validate_config")
        passed.append("reserved_cpus")  # CPU manager settings: outside this module
        kube = parse_resource_list(cfg.kube_reserved, "kube-reserved")
        system = parse_resource_list(cfg.system_reserved, "system-reserved")
        passed.append("parse_reserved")
        try:
            thresholds = parse_threshold_config(effective_eviction_hard(cfg))
        except ValueError as err:
            raise ConfigError(
                "eviction_thresholds", str(err), f"failed to run Kubelet: {err}", "kubelet.eviction_hard"
            ) from None
        passed.append("eviction_thresholds")
        # The container-manager stages: capacity and node allocatable are known from here on.
        capacity = machine_capacity(cfg.nodes)
        outcome.capacity = capacity
        if cfg.node_allocatable_override is not None:
            nar = dict(cfg.node_allocatable_override)
        else:
            nar = node_allocatable_reservation(
                capacity, system, kube, hard_eviction_reservation(thresholds, capacity)
            )
        outcome.node_allocatable_reservation = nar
        numa_ids = [n.id for n in cfg.nodes]
        new_manager(
            cfg.topology_manager_policy,
            cfg.topology_manager_scope,
            numa_ids,
            cfg.distances,
            cfg.topology_manager_policy_options,
            cfg.feature_gates,
        )
        passed.append("topology_manager")
        passed.append("cpu_manager")  # outside this module
        reserved = new_memory_manager(cfg.memory_manager_policy, numa_ids, nar, cfg.reserved_memory)
        outcome.system_reserved_memory = reserved
        passed.append("memory_manager")
        passed.append("cpu_manager_start")  # outside this module
        state = None if reserved is None else initial_machine_state(cfg.nodes, reserved)
        _start_memory_manager(cfg, state, cfg.memory_manager_policy)
        passed.append("memory_manager_start")
        if cfg.node_allocatable_override is None:
            validate_node_allocatable(capacity, nar)
        passed.append("node_allocatable")
        outcome.machine_state = state if state is not None else {}
    except ConfigPanic as err:
        # The process dies while loading its configuration: no stage is reported as passed.
        outcome.failure = err
        outcome.stages_passed = None
    except ConfigError as err:
        outcome.failure = err
    return outcome


def check_document(doc: Mapping[str, Any]) -> StartOutcome:
    """``kubelet_start`` for a document with ``machine`` and ``kubelet``; ``InputError`` if malformed."""
    return kubelet_start(start_config_from_document(doc))


# --- the engine's entry point -------------------------------------------------------------------


def validate(machine: Any, kubelet: Any) -> dict[int, dict[str, int]] | None:
    """Check a parsed scenario's ``MachineSpec`` + ``KubeletSpec`` as the kubelet's ``NewManager``
    calls do (topology manager, then memory manager); raise ``ConfigError`` with the kubelet's texts.

    Returns the system-reserved bytes per NUMA node and type (``None`` for the None policy). Node
    allocatable is ``kubelet.node_allocatable_reservation`` when given, else computed from
    kube/system reserved and eviction when any is set, else the per-type sum of reserved memory
    (the vectors' convention, under which the consistency check always passes).
    """
    numa_ids = [node.id for node in machine.numa_nodes]
    new_manager(
        kubelet.topology_manager_policy,
        kubelet.topology_manager_scope,
        numa_ids,
        machine.distances,
        kubelet.topology_manager_policy_options,
    )
    reserved = [
        (entry.numa_node, {name: GoQuantity.from_bytes(amount) for name, amount in entry.limits.items()})
        for entry in kubelet.reserved_memory
    ]
    nodes = [NodeInfo(n.id, n.memory, dict(n.hugepages)) for n in machine.numa_nodes]
    nar: dict[str, GoQuantity]
    if kubelet.node_allocatable_reservation is not None:
        nar = {k: GoQuantity.from_bytes(v) for k, v in kubelet.node_allocatable_reservation.items()}
    elif kubelet.kube_reserved or kubelet.system_reserved or kubelet.eviction_hard:
        capacity = machine_capacity(nodes)
        try:
            thresholds = parse_threshold_config(kubelet.eviction_hard or DEFAULT_EVICTION_HARD)
        except ValueError as err:
            raise ConfigError(
                "eviction_thresholds", str(err), f"failed to run Kubelet: {err}", "kubelet.eviction_hard"
            ) from None
        nar = node_allocatable_reservation(
            capacity,
            {k: GoQuantity.from_bytes(v) for k, v in kubelet.system_reserved.items()},
            {k: GoQuantity.from_bytes(v) for k, v in kubelet.kube_reserved.items()},
            hard_eviction_reservation(thresholds, capacity),
        )
    else:
        nar = _reserved_totals(reserved)
    return new_memory_manager(kubelet.memory_manager_policy, numa_ids, nar, reserved)
