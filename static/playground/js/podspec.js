// Build Kubernetes v1 Pod JSON from the playground's simple container rows.

const RESOURCE_KEYS = ["cpu", "memory", "hugepages-2Mi", "hugepages-1Gi"];

/**
 * rows: [{kind: "container" | "init" | "sidecar", name, cpu, memory, "hugepages-2Mi", "hugepages-1Gi"}]
 * guaranteed: requests == limits (a Guaranteed pod); otherwise only requests are written (Burstable).
 */
export function buildPod({ name, namespace = "default", rows, guaranteed = true }) {
  const containers = [];
  const initContainers = [];
  for (const row of rows) {
    const resources = {};
    for (const key of RESOURCE_KEYS) {
      const value = String(row[key] ?? "").trim();
      if (value) resources[key] = value;
    }
    const container = {
      name: String(row.name || "").trim(),
      image: "registry.k8s.io/pause:3.10",
      resources: guaranteed ? { requests: { ...resources }, limits: { ...resources } } : { requests: resources },
    };
    if (row.kind === "sidecar") container.restartPolicy = "Always";
    (row.kind === "container" ? containers : initContainers).push(container);
  }
  const spec = { containers };
  if (initContainers.length) spec.initContainers = initContainers;
  return { apiVersion: "v1", kind: "Pod", metadata: { name: String(name).trim(), namespace }, spec };
}

/** A Guaranteed pod with one app container, for presets. */
export function simplePod(name, resources, extra = {}) {
  return buildPod({ name, rows: [{ kind: "container", name: extra.container || "app", cpu: "1", ...resources }] });
}
