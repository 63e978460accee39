// Which part of the reserved memory on each NUMA node belongs to which pod's block.
//
// The kubelet's state only says how much is reserved per node; the blocks say which pod holds it.
// A single-NUMA block sits wholly on its node. A multi-NUMA block is spread the way the kubelet's
// static policy fills it (staticPolicy.updateMachineState walks the affinity in id order and takes
// what each node has left), so we fill the reserved bytes of the group's nodes in the same order.

/** Blocks of every pod in admission order: [{pod, container, resource, size, numa, failed}]. */
export function podBlocks(pods) {
  const blocks = [];
  for (const pod of pods || []) {
    for (const [container, list] of Object.entries(pod.containers || {})) {
      for (const block of list || []) {
        if (!block || !(block.size > 0)) continue;
        blocks.push({
          id: blocks.length,
          pod: pod.name,
          container,
          resource: block.type,
          size: block.size,
          numa: (block.numa_affinity || []).map(Number),
          failed: pod.status === "Failed",
        });
      }
    }
  }
  return blocks;
}

/**
 * Map nodeId -> {resource: [share]} where share = block + {bytes} drawn on that node.
 * Shares never exceed what the state says is reserved on the node.
 */
export function splitBlocks(pods, state) {
  const capacity = new Map();
  const key = (id, resource) => `${id}/${resource}`;
  for (const [id, table] of Object.entries(state || {})) {
    for (const [resource, row] of Object.entries(table || {})) capacity.set(key(Number(id), resource), row.reserved);
  }
  const shares = new Map();
  const put = (id, resource, share) => {
    if (!shares.has(id)) shares.set(id, {});
    const byResource = shares.get(id);
    (byResource[resource] ||= []).push(share);
  };
  const take = (id, resource, wanted) => {
    const left = capacity.get(key(id, resource)) || 0;
    const got = Math.min(left, wanted);
    capacity.set(key(id, resource), left - got);
    return got;
  };
  const blocks = podBlocks(pods);
  // Single-NUMA blocks first: they are exact.
  for (const block of blocks.filter((b) => b.numa.length === 1)) {
    const bytes = take(block.numa[0], block.resource, block.size);
    if (bytes > 0) put(block.numa[0], block.resource, { ...block, bytes });
  }
  for (const block of blocks.filter((b) => b.numa.length > 1)) {
    let remaining = block.size;
    for (const id of [...block.numa].sort((a, b) => a - b)) {
      if (remaining <= 0) break;
      const bytes = take(id, block.resource, remaining);
      remaining -= bytes;
      if (bytes > 0) put(id, block.resource, { ...block, bytes });
    }
  }
  return shares;
}
