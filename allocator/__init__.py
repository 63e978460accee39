"""Memory Manager Playground engine: the kubelet's Memory Manager (Static) and Topology Manager.

Never imports Django, Channels or ninja. See docs/CONTRACTS.md section 1 for the public API.
"""

from __future__ import annotations

from typing import Any

from allocator.errors import ConfigError, InputError
from allocator.manager import MemoryManager
from allocator.pods import parse_pod

__all__ = [
    "ConfigError",
    "InputError",
    "MemoryManager",
    "parse_pod",
    "parse_scenario",
    "replay_document",
]


def parse_scenario(doc: dict[str, Any]) -> Any:
    """``allocator.scenario.parse_scenario`` (imported lazily: owned by the scenario module)."""
    from allocator.scenario import parse_scenario as _parse_scenario

    return _parse_scenario(doc)


def replay_document(doc: dict[str, Any], metrics: bool = False) -> dict[str, Any]:
    """``allocator.replay.replay_document`` (imported lazily: owned by the replay module)."""
    from allocator.replay import replay_document as _replay_document

    return _replay_document(doc, metrics=metrics)
