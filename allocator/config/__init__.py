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

One module per concept: :mod:`.quantity` (``resource.Quantity`` for the error texts), :mod:`.start_config`
(the settings under test and the outcome), :mod:`.document` (reading a document into them),
:mod:`.validation` (``ValidateKubeletConfiguration``, ``parseResourceList``), :mod:`.allocatable`
(eviction thresholds and node-allocatable arithmetic), :mod:`.memory_manager` (``NewManager`` and
``Start`` checks) and :mod:`.start` (the stages in order, and the engine's :func:`validate`). Every name
is re-exported here, where callers import it from.
"""

from __future__ import annotations

from allocator.config.allocatable import (
    DEFAULT_EVICTION_HARD,
    EVICTION_SIGNALS,
    Threshold,
    effective_eviction_hard,
    hard_eviction_reservation,
    machine_capacity,
    node_allocatable_reservation,
    parse_threshold_config,
    validate_node_allocatable,
)
from allocator.config.document import start_config_from_document
from allocator.config.memory_manager import (
    STATE_FILE,
    initial_machine_state,
    memory_manager_stage_error,
    new_memory_manager,
    system_reserved_memory,
    validate_reserved_memory,
)
from allocator.config.quantity import (
    BINARY_SI,
    DECIMAL_EXPONENT,
    DECIMAL_SI,
    HUGEPAGES_PREFIX,
    MEMORY,
    GoQuantity,
    canonical,
    quantity_of,
)
from allocator.config.start import LOCKED_FEATURE_GATES, check_document, kubelet_start, validate
from allocator.config.start_config import (
    POLICY_BEST_EFFORT,
    POLICY_NONE,
    POLICY_STATIC,
    ConfigPanic,
    NodeInfo,
    StartConfig,
    StartOutcome,
)
from allocator.config.validation import (
    RESERVABLE_RESOURCES,
    TOPOLOGY_POLICIES,
    TOPOLOGY_SCOPES,
    aggregate,
    parse_resource_list,
    validate_reserved_memory_configuration,
)

__all__ = [
    "BINARY_SI",
    "DECIMAL_EXPONENT",
    "DECIMAL_SI",
    "DEFAULT_EVICTION_HARD",
    "EVICTION_SIGNALS",
    "HUGEPAGES_PREFIX",
    "LOCKED_FEATURE_GATES",
    "MEMORY",
    "POLICY_BEST_EFFORT",
    "POLICY_NONE",
    "POLICY_STATIC",
    "RESERVABLE_RESOURCES",
    "STATE_FILE",
    "TOPOLOGY_POLICIES",
    "TOPOLOGY_SCOPES",
    "ConfigPanic",
    "GoQuantity",
    "NodeInfo",
    "StartConfig",
    "StartOutcome",
    "Threshold",
    "aggregate",
    "canonical",
    "check_document",
    "effective_eviction_hard",
    "hard_eviction_reservation",
    "initial_machine_state",
    "kubelet_start",
    "machine_capacity",
    "memory_manager_stage_error",
    "new_memory_manager",
    "node_allocatable_reservation",
    "parse_resource_list",
    "parse_threshold_config",
    "quantity_of",
    "start_config_from_document",
    "system_reserved_memory",
    "validate",
    "validate_node_allocatable",
    "validate_reserved_memory",
    "validate_reserved_memory_configuration",
]
