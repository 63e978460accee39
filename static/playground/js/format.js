// Quantities and masks in the notation kubelet users read.

const UNITS = [
  ["Ti", 2 ** 40],
  ["Gi", 2 ** 30],
  ["Mi", 2 ** 20],
  ["Ki", 2 ** 10],
];

/** Bytes -> "1Gi", "1.5Gi", "512Mi" (binary units, at most two decimals). */
export function formatBytes(bytes) {
  const n = Number(bytes);
  if (!Number.isFinite(n)) return String(bytes);
  if (n === 0) return "0";
  for (const [unit, size] of UNITS) {
    if (Math.abs(n) >= size) {
      const value = n / size;
      const text = Number.isInteger(value) ? String(value) : value.toFixed(2).replace(/0+$/, "").replace(/\.$/, "");
      return `${text}${unit}`;
    }
  }
  return `${n}B`;
}

/** Exact Kubernetes quantity for a byte count when it is a whole number of a binary unit. */
export function toQuantity(bytes) {
  const n = Number(bytes);
  for (const [unit, size] of UNITS) {
    if (n >= size && n % size === 0) return `${n / size}${unit}`;
  }
  return String(n);
}

/** NUMA ids -> kubelet's bit string with NUMA 0 rightmost, e.g. [0, 2] -> "101". */
export function maskBits(ids, width) {
  if (!ids) return "nil";
  const top = Math.max(width || 0, ...ids.map((id) => id + 1), 1);
  let bits = "";
  for (let i = top - 1; i >= 0; i -= 1) bits += ids.includes(i) ? "1" : "0";
  return bits;
}

/** NUMA ids -> "{0,1}" or "any" for a nil mask. */
export function maskIds(ids) {
  return ids ? `{${ids.join(",")}}` : "nil (any)";
}

/** Resource name -> short label used in the picture. */
export function resourceLabel(resource) {
  return resource === "memory" ? "memory" : resource.replace("hugepages-", "hugepages ");
}

/** Sort resources: memory first, then hugepages by page size. */
export function sortResources(names) {
  const rank = (name) => (name === "memory" ? 0 : name.endsWith("Mi") ? 1 : 2);
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

export function formatTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleTimeString();
}
