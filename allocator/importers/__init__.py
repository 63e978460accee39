"""Turning what a node engineer has on a real node into scenario pieces.

* ``KubeletConfiguration`` YAML (the kubelet's ``--config`` file) -> :class:`KubeletSpec`
  (v1beta1 field names; absent fields take the v1beta1 defaults: Memory Manager ``None``,
  Topology Manager ``none``/``container``).
* the ``--reserved-memory`` flag (``0:memory=1Gi,hugepages-1Gi=2Gi;1:memory=1Gi``) -> reserved memory,
  with the texts of the kubelet's own flag parser (``ReservedMemoryVar.Set``).
* ``numactl --hardware`` output and cadvisor's ``MachineInfo`` JSON -> :class:`MachineSpec`.
* a ``memory_manager_state`` checkpoint file -> a scenario document whose pods are the file's entries
  and whose last step restarts the kubelet from exactly that file.

Every problem is an :class:`InputError` whose ``path`` names the field (``reservedMemory[0].limits.memory``)
or the line (``line 7``) at fault.

One module per source: :mod:`.kubelet_config`, :mod:`.reserved_memory_flag`, :mod:`.numactl`,
:mod:`.cadvisor` and :mod:`.checkpoint_import`; every name is re-exported here, where callers import it from.
"""

from __future__ import annotations

from allocator.importers.cadvisor import machine_doc_from_cadvisor, parse_cadvisor_machine_info
from allocator.importers.checkpoint_import import CheckpointImport, import_checkpoint
from allocator.importers.kubelet_config import (
    KUBELET_CONFIG_GROUP,
    KUBELET_CONFIG_KIND,
    kubelet_doc_from_configuration,
    parse_kubelet_configuration,
)
from allocator.importers.numactl import machine_doc_from_numactl, parse_numactl_hardware
from allocator.importers.reserved_memory_flag import parse_reserved_memory_flag

__all__ = [
    "KUBELET_CONFIG_GROUP",
    "KUBELET_CONFIG_KIND",
    "CheckpointImport",
    "import_checkpoint",
    "kubelet_doc_from_configuration",
    "machine_doc_from_cadvisor",
    "machine_doc_from_numactl",
    "parse_cadvisor_machine_info",
    "parse_kubelet_configuration",
    "parse_numactl_hardware",
    "parse_reserved_memory_flag",
]
