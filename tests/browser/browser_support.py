"""Helpers for the browser tests: scenario documents, pods, and reading the NUMA picture's data attributes."""

from __future__ import annotations

from typing import Any

GI = 1024**3
MI = 1024**2


def guaranteed_pod(
    name: str, containers: dict[str, dict[str, str]], init: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """A Guaranteed pod: requests == limits for every container."""

    def container(container_name: str, resources: dict[str, str]) -> dict[str, Any]:
        full = {"cpu": "1", **resources}
        return {"name": container_name, "image": "pause", "resources": {"requests": full, "limits": full}}

    spec: dict[str, Any] = {"containers": [container(n, r) for n, r in containers.items()]}
    if init:
        spec["initContainers"] = [container(n, r) for n, r in init.items()]
    metadata = {"name": name, "namespace": "default"}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def machine(
    *node_memory: str,
    policy: str = "single-numa-node",
    scope: str = "container",
    hugepages_1gi: str | None = None,
    reserved: str = "1Gi",
    steps: list[dict[str, Any]] | None = None,
    name: str = "browser test",
) -> dict[str, Any]:
    """A scenario document with one NUMA node per ``node_memory`` and ``reserved`` memory on each."""
    nodes = []
    for index, memory in enumerate(node_memory):
        node: dict[str, Any] = {"id": index, "memory": memory}
        if hugepages_1gi is not None:
            node["hugepages-1Gi"] = hugepages_1gi
        nodes.append(node)
    return {
        "name": name,
        "machine": {"numa_nodes": nodes, "distances": None},
        "kubelet": {
            "memory_manager_policy": "Static",
            "topology_manager_policy": policy,
            "topology_manager_scope": scope,
            "reserved_memory": [{"numa_node": n["id"], "limits": {"memory": reserved}} for n in nodes],
        },
        "steps": steps or [],
    }


def blocks_in_picture(page: Any) -> list[dict[str, Any]]:
    """Every block element of the NUMA picture, read from its data attributes.

    ``parts`` lists where the block is drawn: ``(numa id, bytes)`` per NUMA node it occupies.
    """
    return page.eval_on_selector_all(
        "svg.machine .block",
        """els => els.map(el => ({
            pod: el.getAttribute('data-pod'),
            container: el.getAttribute('data-container'),
            resource: el.getAttribute('data-resource'),
            size: Number(el.getAttribute('data-size')),
            numa: el.getAttribute('data-numa'),
            parts: Array.from(el.querySelectorAll('rect[data-node]')).map(
                r => [Number(r.getAttribute('data-node')), Number(r.getAttribute('data-bytes'))]),
        }))""",
    )


def other_reserved(page: Any, numa_id: int, resource: str) -> int:
    """Bytes the picture shows as reserved on a node but held by no listed pod's block."""
    row = f"svg.machine .numa-node[data-numa-id='{numa_id}'] .res-row[data-resource='{resource}']"
    read = "els => els.map(e => e.getAttribute('data-bytes'))"
    values = page.eval_on_selector_all(f"{row} .seg-other", read)
    return sum(int(value) for value in values)


def node_attribute(page: Any, numa_id: int, name: str) -> int:
    value = page.locator(f"svg.machine .numa-node[data-numa-id='{numa_id}']").get_attribute(name)
    assert value is not None, f"NUMA {numa_id} has no {name}"
    return int(value)


def api_blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    """The blocks of a scenario view's pods, flattened like blocks_in_picture (size > 0 only)."""
    found = []
    for pod in view["pods"]:
        for container, blocks in pod["containers"].items():
            for block in blocks:
                if block["size"] > 0:
                    found.append(
                        {
                            "pod": pod["name"],
                            "container": container,
                            "resource": block["type"],
                            "size": block["size"],
                            "numa": ",".join(str(n) for n in block["numa_affinity"]),
                        }
                    )
    return found


def picture_matches(page: Any, view: dict[str, Any]) -> None:
    """The picture shows exactly the API's blocks and the API's per-node free/reserved bytes."""
    shown = {(b["pod"], b["container"], b["resource"], b["size"], b["numa"]) for b in blocks_in_picture(page)}
    expected = {(b["pod"], b["container"], b["resource"], b["size"], b["numa"]) for b in api_blocks(view)}
    assert shown == expected
    drawn: dict[tuple[int, str], int] = {}
    for block in blocks_in_picture(page):
        assert sum(size for _, size in block["parts"]) <= block["size"]
        assert {str(numa) for numa, _ in block["parts"]} <= set(block["numa"].split(","))
        for numa, size in block["parts"]:
            drawn[(numa, block["resource"])] = drawn.get((numa, block["resource"]), 0) + size
    for numa_id, table in view["state"].items():
        for resource, row in table.items():
            assert node_attribute(page, int(numa_id), f"data-free-{resource}") == row["free"]
            assert node_attribute(page, int(numa_id), f"data-reserved-{resource}") == row["reserved"]
            # The bar accounts for every reserved byte: pods' block parts plus anything unattributed.
            on_node = drawn.get((int(numa_id), resource), 0) + other_reserved(page, int(numa_id), resource)
            assert on_node == row["reserved"]
