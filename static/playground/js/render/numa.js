// The NUMA picture, in the spirit of hwloc's lstopo: one box per NUMA node, one stacked bar per
// memory type (system reserved, each pod's blocks, free), NUMA groups (the kubelet's "cells")
// drawn around the nodes they join, and distances on hover.
//
// The picture is drawn from the scenario view of docs/CONTRACTS.md: `state` (the vectors' state
// format), `numa_groups` and `pods[].containers` (the blocks). Tests read its data attributes:
// each node carries data-numa-id, data-free-<resource> and data-reserved-<resource> in bytes; each
// block carries data-pod, data-container, data-resource, data-size and data-numa.

import { s } from "../dom.js";
import { formatBytes, resourceLabel, sortResources } from "../format.js";
import { splitBlocks } from "./blocks.js";
import { podColour } from "./colours.js";

const NODE_W = 300;
const GAP_X = 24;
const PAD = 12;
const HEADER_H = 34;
const ROW_H = 62;
const BAR_H = 24;
const GROUP_LABEL_H = 22;
const MAX_COLUMNS = 4;

/** Order nodes so the members of one NUMA group sit next to each other. */
export function layoutOrder(nodeIds, numaGroups) {
  const seen = new Set();
  const order = [];
  for (const id of nodeIds) {
    if (seen.has(id)) continue;
    const cells = groupCells(numaGroups, id);
    for (const cell of cells) {
      if (!seen.has(cell) && nodeIds.includes(cell)) {
        seen.add(cell);
        order.push(cell);
      }
    }
  }
  return order;
}

function groupCells(numaGroups, id) {
  const entry = numaGroups && numaGroups[String(id)];
  const cells = entry && Array.isArray(entry.cells) && entry.cells.length ? entry.cells : [id];
  return [...cells].map(Number).sort((a, b) => a - b);
}

function assignments(numaGroups, id) {
  const entry = numaGroups && numaGroups[String(id)];
  return entry ? entry.number_of_assignments || 0 : 0;
}

function nodeHeight(resources) {
  return HEADER_H + resources.length * ROW_H + PAD;
}

/**
 * Render the machine. Returns an <svg> element.
 * view: {state, numa_groups, pods, machine}; opts: {onSelectPod(name), selectedPod, width (px available)}
 */
export function renderMachine(view, opts = {}) {
  const state = view.state || {};
  const nodeIds = Object.keys(state).map(Number).sort((a, b) => a - b);
  const order = layoutOrder(nodeIds, view.numa_groups);
  const resources = sortResources(new Set(nodeIds.flatMap((id) => Object.keys(state[String(id)] || {}))));
  // As many columns as fit the space given (never upscaled, never squeezed below one node).
  const fitting = opts.width ? Math.floor((opts.width - GAP_X) / (NODE_W + GAP_X)) : MAX_COLUMNS;
  const columns = Math.max(1, Math.min(MAX_COLUMNS, order.length, fitting));
  const rows = Math.ceil(order.length / columns);
  const nodeH = nodeHeight(resources);
  const rowH = nodeH + GROUP_LABEL_H + 2 * PAD;
  const width = columns * NODE_W + (columns + 1) * GAP_X;
  const height = rows * rowH + PAD;
  const shares = splitBlocks(view.pods || [], state);

  const position = new Map(
    order.map((id, index) => {
      const col = index % columns;
      const row = Math.floor(index / columns);
      return [id, { x: GAP_X + col * (NODE_W + GAP_X), y: PAD + GROUP_LABEL_H + row * rowH, row, col }];
    }),
  );

  const svg = s("svg", {
    class: "machine",
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": `Machine with ${nodeIds.length} NUMA node${nodeIds.length === 1 ? "" : "s"}`,
  });
  svg.append(patterns());
  svg.append(...groupHulls(order, view.numa_groups, position, nodeH));
  // Block parts are collected while the bars are laid out, then drawn once per block on top, so a
  // block spread over several NUMA nodes is still one element (its parts sit in each node's bar).
  const placements = [];
  for (const id of order) {
    const { x, y } = position.get(id);
    const context = { ...opts, placements, x, y };
    svg.append(renderNode(id, state[String(id)] || {}, resources, shares.get(id) || {}, x, y, nodeH, view, context));
  }
  svg.append(...renderBlocks(placements, opts));
  wireDistances(svg, view.machine && view.machine.distances);
  return svg;
}

/** One <g class="block"> per block, with one rect per NUMA node it occupies. */
function renderBlocks(placements, opts) {
  const byBlock = new Map();
  for (const placement of placements) {
    const list = byBlock.get(placement.share.id) || [];
    list.push(placement);
    byBlock.set(placement.share.id, list);
  }
  return [...byBlock.values()].map((parts) => {
    const { share, resource } = parts[0];
    const colour = podColour(share.pod);
    const selected = opts.selectedPod && opts.selectedPod === share.pod;
    const where = parts.map((p) => `${formatBytes(p.share.bytes)} on NUMA ${p.nodeId}`).join(", ");
    return s(
      "g",
      {
        class: `block${selected ? " selected" : ""}${share.failed ? " failed" : ""}`,
        "data-pod": share.pod,
        "data-container": share.container,
        "data-resource": resource,
        "data-size": share.size,
        "data-numa": share.numa.join(","),
        onclick: opts.onSelectPod ? () => opts.onSelectPod(share.pod) : undefined,
      },
      parts.map((p) => [
        s("rect", {
          x: p.x,
          y: p.y,
          width: Math.max(p.w, 0),
          height: BAR_H,
          fill: colour.fill,
          stroke: colour.stroke,
          "data-node": p.nodeId,
          "data-bytes": p.share.bytes,
        }),
        p.w > 40
          ? s("text", {
              x: p.x + 4,
              y: p.y + 16,
              class: "seg-text block-text",
              fill: colour.text,
              text: fit(`${share.pod}/${share.container}`, p.w),
            })
          : null,
      ]),
      s("title", {
        text:
          `${share.pod} / ${share.container}: ${formatBytes(share.size)} ${resource} pinned to ` +
          `NUMA {${share.numa.join(",")}}${parts.length > 1 ? ` (${where})` : ""}`,
      }),
    );
  });
}

function patterns() {
  return s(
    "defs",
    {},
    s(
      "pattern",
      { id: "hatch-sys", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" },
      s("rect", { width: 6, height: 6, class: "seg-sys-bg" }),
      s("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "seg-sys-line" }),
    ),
    s(
      "pattern",
      { id: "hatch-huge", width: 6, height: 6, patternUnits: "userSpaceOnUse", patternTransform: "rotate(-45)" },
      s("rect", { width: 6, height: 6, class: "seg-huge-bg" }),
      s("line", { x1: 0, y1: 0, x2: 0, y2: 6, class: "seg-huge-line" }),
    ),
  );
}

/** One rounded hull per run of a multi-node group within a layout row. */
function groupHulls(order, numaGroups, position, nodeH) {
  const hulls = [];
  const done = new Set();
  for (const id of order) {
    const cells = groupCells(numaGroups, id).filter((cell) => position.has(cell));
    const key = cells.join(",");
    if (cells.length < 2 || done.has(key)) continue;
    done.add(key);
    const byRow = new Map();
    for (const cell of cells) {
      const p = position.get(cell);
      byRow.set(p.row, [...(byRow.get(p.row) || []), p]);
    }
    let first = true;
    for (const points of byRow.values()) {
      const minX = Math.min(...points.map((p) => p.x)) - PAD;
      const maxX = Math.max(...points.map((p) => p.x)) + NODE_W + PAD;
      const y = points[0].y - GROUP_LABEL_H;
      const hull = s(
        "g",
        { class: "numa-group", "data-cells": key },
        s("rect", { x: minX, y, width: maxX - minX, height: nodeH + GROUP_LABEL_H + PAD, rx: 12 }),
        s("title", { text: `NUMA group {${key}}: memory pinned across these nodes is shared by them` }),
      );
      if (first) {
        const count = assignments(numaGroups, cells[0]);
        hull.append(
          s("text", {
            x: minX + 12,
            y: y + 15,
            class: "group-label",
            text: `multi-NUMA group {${key}} · ${count} assignment${count === 1 ? "" : "s"}`,
          }),
        );
      }
      first = false;
      hulls.push(hull);
    }
  }
  return hulls;
}

function renderNode(id, table, resources, shares, x, y, nodeH, view, opts) {
  const attrs = { class: "numa-node", "data-numa-id": id, tabindex: 0, transform: `translate(${x},${y})` };
  for (const resource of resources) {
    const row = table[resource];
    if (!row) continue;
    // Exact resource name (as the API spells it) plus a lower-case twin, because SVG attribute
    // names are case-sensitive and CSS/HTML habits lower-case them.
    for (const name of new Set([resource, resource.toLowerCase()])) {
      attrs[`data-free-${name}`] = row.free;
      attrs[`data-reserved-${name}`] = row.reserved;
    }
  }
  const count = assignments(view.numa_groups, id);
  const node = s(
    "g",
    attrs,
    s("rect", { class: "node-box", width: NODE_W, height: nodeH, rx: 8 }),
    s("rect", { class: "node-head", width: NODE_W, height: HEADER_H - 6, rx: 8 }),
    s("text", { x: PAD, y: 20, class: "node-title", text: `NUMA ${id}` }),
    s("text", {
      x: PAD + 70,
      y: 20,
      class: "node-sub",
      text: `${count} assignment${count === 1 ? "" : "s"}`,
    }),
    s("text", { x: NODE_W - PAD, y: 20, class: "node-distance", "text-anchor": "end", text: "" }),
    s("title", { text: `NUMA node ${id}` }),
  );
  resources.forEach((resource, index) => {
    const row = table[resource];
    const rowY = HEADER_H + index * ROW_H;
    const origin = { x: x + PAD, y: y + rowY + 18 };
    node.append(
      row ? renderRow(id, resource, row, shares[resource] || [], rowY, { ...opts, origin }) : missingRow(resource, rowY),
    );
  });
  return node;
}

function missingRow(resource, y) {
  return s(
    "g",
    { class: "res-row missing", transform: `translate(${PAD},${y})` },
    s("text", { y: 14, class: "row-label", text: `${resourceLabel(resource)}: no pool on this node` }),
  );
}

/** Segments for one resource's bar, left to right, in bytes. */
export function rowSegments(resource, row, shares) {
  const segments = [];
  if (row.system_reserved > 0) segments.push({ kind: "sys", bytes: row.system_reserved, label: "system reserved" });
  const carved = row.total - row.system_reserved - row.allocatable;
  if (resource === "memory" && carved > 0) segments.push({ kind: "huge", bytes: carved, label: "hugepages" });
  let attributed = 0;
  for (const share of shares) {
    segments.push({ kind: "block", bytes: share.bytes, share });
    attributed += share.bytes;
  }
  const other = row.reserved - attributed;
  if (other > 0) segments.push({ kind: "other", bytes: other, label: "reserved (not in any pod's blocks)" });
  if (row.free > 0) segments.push({ kind: "free", bytes: row.free, label: "free" });
  return segments;
}

function renderRow(nodeId, resource, row, shares, y, opts) {
  const barW = NODE_W - 2 * PAD;
  const g = s("g", { class: "res-row", "data-resource": resource, transform: `translate(${PAD},${y})` });
  g.append(
    s("text", { y: 13, class: "row-label", text: resourceLabel(resource) }),
    s("text", {
      x: barW,
      y: 13,
      class: "row-total",
      "text-anchor": "end",
      text: row.total > 0 ? `${formatBytes(row.total)} total` : "empty pool",
    }),
  );
  const bar = s("g", { class: "bar", transform: "translate(0,18)" });
  bar.append(s("rect", { class: "bar-bg", width: barW, height: BAR_H, rx: 3 }));
  const scale = row.total > 0 ? barW / row.total : 0;
  let cursor = 0;
  for (const segment of rowSegments(resource, row, shares)) {
    const w = segment.bytes * scale;
    bar.append(renderSegment(nodeId, resource, segment, cursor, w, opts));
    cursor += w;
  }
  g.append(bar);
  g.append(
    s("text", {
      y: 18 + BAR_H + 14,
      class: "row-legend",
      text: `free ${formatBytes(row.free)} · pinned ${formatBytes(row.reserved)} of ${formatBytes(row.allocatable)}`,
    }),
    s("title", {
      text:
        `${resource} on NUMA ${nodeId}: total ${formatBytes(row.total)}, system reserved ` +
        `${formatBytes(row.system_reserved)}, allocatable ${formatBytes(row.allocatable)}, ` +
        `reserved by pods ${formatBytes(row.reserved)}, free ${formatBytes(row.free)}`,
    }),
  );
  return g;
}

function renderSegment(nodeId, resource, segment, x, w, opts) {
  if (segment.kind !== "block") {
    return s(
      "g",
      { class: `seg seg-${segment.kind}`, "data-kind": segment.kind, "data-bytes": segment.bytes },
      s("rect", { x, width: Math.max(w, 0), height: BAR_H }),
      w > 46 ? s("text", { x: x + 4, y: 16, class: "seg-text", text: shortLabel(segment, w) }) : null,
      s("title", { text: `${segment.label}: ${formatBytes(segment.bytes)} on NUMA ${nodeId}` }),
    );
  }
  // Drawn later, once per block, by renderBlocks(); here only its place in this bar is noted.
  opts.placements.push({ share: segment.share, resource, nodeId, x: opts.origin.x + x, y: opts.origin.y, w });
  return s("g", { class: "seg seg-block-slot" });
}

/** The longest of "label size", "label", "size" that fits the segment. */
function shortLabel(segment, w) {
  const label = segment.kind === "sys" ? "sys" : segment.kind === "other" ? "reserved" : segment.label;
  const size = formatBytes(segment.bytes);
  for (const text of [`${label} ${size}`, label, size]) {
    if (fit(text, w) === text) return text;
  }
  return fit(size, w);
}

/** Trim text to roughly fit a width in the picture's 11px font. */
function fit(text, width) {
  const max = Math.floor((width - 8) / 6.2);
  if (text.length <= max) return text;
  return max > 2 ? `${text.slice(0, max - 1)}…` : "";
}

/** Distances on hover or focus: every node shows its distance from the hovered one. */
function wireDistances(svg, distances) {
  const nodes = Array.from(svg.querySelectorAll(".numa-node"));
  const lookup = (from, to) => {
    if (!distances) return null;
    const row = distances[String(from)] || distances[from];
    if (!row) return null;
    const value = row[String(to)] ?? row[to];
    return value === undefined ? null : value;
  };
  for (const node of nodes) {
    const from = node.getAttribute("data-numa-id");
    const summary = nodes
      .map((other) => other.getAttribute("data-numa-id"))
      .map((to) => `NUMA ${to}: ${lookup(from, to) ?? "?"}`)
      .join(", ");
    node.querySelector(":scope > title").textContent = distances
      ? `NUMA node ${from}. Distances from here: ${summary}`
      : `NUMA node ${from} (the machine gives no distances)`;
    const show = () => {
      for (const other of nodes) {
        const to = other.getAttribute("data-numa-id");
        const d = lookup(from, to);
        other.querySelector(".node-distance").textContent =
          d === null ? "" : to === from ? `local ${d}` : `distance ${d}`;
        other.classList.toggle("hovered", to === from);
      }
    };
    const hide = () => {
      for (const other of nodes) {
        other.querySelector(".node-distance").textContent = "";
        other.classList.remove("hovered");
      }
    };
    node.addEventListener("mouseenter", show);
    node.addEventListener("focus", show);
    node.addEventListener("mouseleave", hide);
    node.addEventListener("blur", hide);
  }
}
