// Scenarios that teach something. Each one is a scenario document (docs/scenario-format.md);
// `variants` open the same machine under different kubelet settings side by side.

import { buildPod, simplePod } from "./podspec.js";

const twoSocketDistances = [
  [10, 21],
  [21, 10],
];

function reserved(nodeIds, memory = "1Gi") {
  return nodeIds.map((id) => ({ numa_node: id, limits: { memory } }));
}

function nodes(count, memory, extra = {}) {
  return Array.from({ length: count }, (_, id) => ({ id, memory, ...extra }));
}

/** Distances like a real multi-socket box: 10 local, 12 same socket pair, 32 far. */
function ringDistances(count) {
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: count }, (_, j) => (i === j ? 10 : Math.floor(i / 2) === Math.floor(j / 2) ? 12 : 32)),
  );
}

export const PRESETS = [
  {
    id: "two-socket",
    title: "2-socket server",
    teaches:
      "The everyday case: two NUMA nodes, 1Gi reserved for the system on each, single-numa-node policy. " +
      "Each Guaranteed pod is pinned to the narrowest set of nodes that fits, lowest id first.",
    doc: {
      name: "2-socket server",
      machine: { numa_nodes: nodes(2, "64Gi"), distances: twoSocketDistances },
      kubelet: {
        memory_manager_policy: "Static",
        topology_manager_policy: "single-numa-node",
        topology_manager_scope: "container",
        reserved_memory: reserved([0, 1]),
      },
      steps: [
        { op: "admit", pod: simplePod("web", { memory: "8Gi" }) },
        { op: "admit", pod: simplePod("cache", { memory: "40Gi" }) },
      ],
    },
  },
  {
    id: "hugepages",
    title: "1Gi hugepages on both sockets",
    teaches:
      "Hugepages are their own resource with their own bar. Memory's allocatable shrinks by the " +
      "hugepages carved out of it; a pod asking for both gets blocks of both types on one node.",
    doc: {
      name: "1Gi hugepages on both sockets",
      machine: { numa_nodes: nodes(2, "64Gi", { "hugepages-1Gi": "16Gi" }), distances: twoSocketDistances },
      kubelet: {
        topology_manager_policy: "single-numa-node",
        topology_manager_scope: "pod",
        reserved_memory: reserved([0, 1]),
      },
      steps: [{ op: "admit", pod: simplePod("dpdk", { memory: "4Gi", "hugepages-1Gi": "12Gi" }) }],
    },
  },
  {
    id: "four-numa",
    title: "4-NUMA machine",
    teaches:
      "Four nodes with real distances and prefer-closest-numa-nodes: when a request must span nodes, " +
      "the closest pair wins. Hover a node to see distances.",
    doc: {
      name: "4-NUMA machine",
      machine: { numa_nodes: nodes(4, "32Gi"), distances: ringDistances(4) },
      kubelet: {
        topology_manager_policy: "best-effort",
        topology_manager_scope: "container",
        topology_manager_policy_options: { "prefer-closest-numa-nodes": "true" },
        reserved_memory: reserved([0, 1, 2, 3], "512Mi"),
      },
      steps: [{ op: "admit", pod: simplePod("analytics", { memory: "40Gi" }) }],
    },
  },
  {
    id: "eight-numa",
    title: "8-NUMA machine",
    teaches:
      "Eight nodes, the most the kubelet accepts without max-allowable-numa-nodes. Hint generation " +
      "walks every subset of nodes: 255 masks per resource.",
    doc: {
      name: "8-NUMA machine",
      machine: { numa_nodes: nodes(8, "16Gi"), distances: ringDistances(8) },
      kubelet: {
        topology_manager_policy: "restricted",
        topology_manager_scope: "pod",
        reserved_memory: reserved([0, 1, 2, 3, 4, 5, 6, 7], "512Mi"),
      },
      steps: [
        { op: "admit", pod: simplePod("small", { memory: "4Gi" }) },
        { op: "admit", pod: simplePod("wide", { memory: "40Gi" }) },
      ],
    },
  },
  {
    id: "span",
    title: "A request that must span NUMA nodes",
    teaches:
      "No single node can hold 24Gi, so the pod gets a multi-NUMA group {0,1}. The group then sticks: " +
      "later pods may not pin memory to just one of its nodes.",
    doc: {
      name: "A request that must span NUMA nodes",
      machine: { numa_nodes: nodes(3, "16Gi"), distances: null },
      kubelet: {
        topology_manager_policy: "best-effort",
        topology_manager_scope: "container",
        reserved_memory: reserved([0, 1, 2], "1Gi"),
      },
      steps: [
        { op: "admit", pod: simplePod("big", { memory: "24Gi" }) },
        { op: "admit", pod: simplePod("small", { memory: "2Gi" }) },
      ],
    },
  },
  {
    id: "init-lend",
    title: "Init containers lend memory",
    teaches:
      "A 6Gi init container runs before a 4Gi app container: the app reuses the init container's " +
      "blocks instead of adding to them, and once the pod starts only the sidecar's and the app's remain.",
    doc: {
      name: "Init containers lend memory",
      machine: { numa_nodes: nodes(2, "16Gi"), distances: twoSocketDistances },
      kubelet: {
        topology_manager_policy: "single-numa-node",
        topology_manager_scope: "container",
        reserved_memory: reserved([0, 1]),
      },
      steps: [
        {
          op: "admit",
          pod: buildPod({
            name: "migrate-then-serve",
            rows: [
              { kind: "init", name: "migrate", cpu: "1", memory: "6Gi" },
              { kind: "sidecar", name: "proxy", cpu: "1", memory: "1Gi" },
              { kind: "container", name: "server", cpu: "2", memory: "4Gi" },
            ],
          }),
        },
      ],
    },
  },
  {
    id: "restricted-vs-single",
    title: "restricted vs single-numa-node",
    teaches:
      "The same 20Gi pod on two 16Gi nodes. restricted admits it across both nodes (the narrowest " +
      "feasible mask is preferred); single-numa-node rejects it with TopologyAffinityError.",
    variants: [
      { label: "Open with restricted", kubelet: { topology_manager_policy: "restricted" } },
      { label: "Open with single-numa-node", kubelet: { topology_manager_policy: "single-numa-node" } },
    ],
    doc: {
      name: "restricted vs single-numa-node",
      machine: { numa_nodes: nodes(2, "16Gi"), distances: twoSocketDistances },
      kubelet: {
        topology_manager_policy: "restricted",
        topology_manager_scope: "pod",
        reserved_memory: reserved([0, 1]),
      },
      steps: [{ op: "admit", pod: simplePod("wide", { memory: "20Gi" }) }],
    },
  },
];

/** The document a preset (and optional variant) creates. */
export function presetDocument(preset, variant) {
  const doc = structuredClone(preset.doc);
  if (variant) {
    Object.assign(doc.kubelet, variant.kubelet);
    doc.name = `${doc.name} (${doc.kubelet.topology_manager_policy})`;
  }
  return doc;
}

/** One-line description of the machine for the preset card. */
export function presetFacts(preset) {
  const { machine, kubelet } = preset.doc;
  const first = machine.numa_nodes[0];
  const huge = Object.keys(first).filter((key) => key.startsWith("hugepages-"));
  const hugeText = huge.map((key) => ` + ${first[key]} ${key}`).join("");
  return (
    `${machine.numa_nodes.length} × ${first.memory}${hugeText} · ${kubelet.topology_manager_policy}` +
    ` · ${kubelet.topology_manager_scope || "container"} scope`
  );
}
