// The start page: presets, the machine form and the paste/upload box. Creating always goes
// through the REST API; the edit token is kept in localStorage for the new scenario.

import { createScenario, errorLines, importNode, lintConfiguration, saveToken } from "./api.js";
import { $, $all, h, replaceChildren, s } from "./dom.js";
import { PRESETS, presetDocument, presetFacts } from "./presets.js";

function openScenario(created) {
  saveToken(created.id, created.edit_token);
  location.assign(`/s/${encodeURIComponent(created.id)}`);
}

// ---- presets ----

function renderPresets() {
  const cards = PRESETS.map((preset) => {
    const variants = preset.variants || [{ label: "Open", kubelet: null }];
    const status = h("span", { class: "form-status", role: "status" });
    const buttons = variants.map((variant) =>
      h("button", {
        type: "button",
        "data-preset": preset.id,
        "data-variant": variant.kubelet ? variant.kubelet.topology_manager_policy : "",
        text: variant.label,
        onclick: async (event) => {
          event.currentTarget.disabled = true;
          status.textContent = "Creating…";
          try {
            openScenario(await createScenario(presetDocument(preset, variant.kubelet ? variant : null)));
          } catch (error) {
            status.textContent = errorLines(error).join("; ");
            status.className = "form-status error";
            event.target.disabled = false;
          }
        },
      }),
    );
    return h(
      "article",
      { class: "preset", "data-preset-card": preset.id },
      thumbnail(preset.doc),
      h("h3", { text: preset.title }),
      h("div", { class: "facts", text: presetFacts(preset) }),
      h("p", { class: "teaches", text: preset.teaches }),
      h("div", { class: "actions" }, buttons, status),
    );
  });
  replaceChildren($("#presets"), cards);
}

/** A tiny picture of the preset's machine: one box per NUMA node, a band where hugepages are. */
function thumbnail(doc) {
  const nodes = doc.machine.numa_nodes;
  const perRow = Math.min(nodes.length, 4);
  const w = 40;
  const gap = 6;
  const rows = Math.ceil(nodes.length / perRow);
  const width = perRow * (w + gap) - gap;
  const height = rows * 26 - 4;
  const svg = s("svg", { class: "thumb", viewBox: `0 0 ${width} ${height}`, width, height, "aria-hidden": "true" });
  nodes.forEach((node, index) => {
    const x = (index % perRow) * (w + gap);
    const y = Math.floor(index / perRow) * 26;
    const huge = Object.keys(node).some((key) => key.startsWith("hugepages-"));
    svg.append(
      s("rect", { x, y, width: w, height: 22, rx: 3, class: "thumb-node" }),
      huge ? s("rect", { x: x + 3, y: y + 14, width: w - 6, height: 5, class: "thumb-huge" }) : null,
      s("text", { x: x + 4, y: y + 11, class: "thumb-label", text: `N${node.id}` }),
    );
  });
  return svg;
}

// ---- machine form ----

const NODE_FIELDS = [
  ["memory", "64Gi"],
  ["hugepages-2Mi", ""],
  ["hugepages-1Gi", ""],
  ["reserved", "1Gi"],
];

function nodeRow(id, values) {
  const cells = NODE_FIELDS.map(([field, fallback]) => {
    const path = field === "reserved" ? `kubelet.reserved_memory[${id}]` : `machine.numa_nodes[${id}].${field}`;
    const inputId = `n${id}-${field}`;
    return h(
      "td",
      {},
      h("label", { for: inputId, class: "visually-hidden", text: `NUMA ${id} ${field}` }),
      h("input", { id: inputId, "data-node": id, "data-field": field, "data-path": path, value: values[field] ?? fallback }),
      h("div", { class: "field-error", "data-error-for": path }),
    );
  });
  return h("tr", {}, h("td", { text: String(id) }), cells);
}

function currentNodeValues() {
  const values = [];
  for (const input of $all("#nodes-body input")) {
    const id = Number(input.dataset.node);
    values[id] = values[id] || {};
    values[id][input.dataset.field] = input.value;
  }
  return values;
}

function defaultDistances(count) {
  return Array.from({ length: count }, (_, i) =>
    Array.from({ length: count }, (_, j) => (i === j ? 10 : 21)).join(" "),
  ).join("; ");
}

/** Add or remove node rows to match the count; rows already there keep what was typed in them. */
function renderNodeRows() {
  const count = Math.max(1, Math.min(64, Number($("#f-count").value) || 1));
  const body = $("#nodes-body");
  const rows = Array.from(body.children);
  if (rows.length === count) return;
  const previous = currentNodeValues();
  for (const row of rows.slice(count)) row.remove();
  for (let id = rows.length; id < count; id += 1) body.append(nodeRow(id, previous[id - 1] || previous[0] || {}));
  $("#f-distances").value = count > 1 ? defaultDistances(count) : "";
}

function parseDistances(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  return trimmed.split(";").map((row) =>
    row
      .trim()
      .split(/[\s,]+/)
      .filter(Boolean)
      .map((cell) => (/^\d+$/.test(cell) ? Number(cell) : cell)),
  );
}

export function machineDocument() {
  const values = currentNodeValues();
  const numaNodes = [];
  const reservedMemory = [];
  values.forEach((row, id) => {
    const node = { id, memory: row.memory.trim() };
    for (const size of ["hugepages-2Mi", "hugepages-1Gi"]) if (row[size].trim()) node[size] = row[size].trim();
    numaNodes.push(node);
    if (row.reserved.trim()) reservedMemory.push({ numa_node: id, limits: { memory: row.reserved.trim() } });
  });
  const options = {};
  if ($("#f-prefer-closest").checked) options["prefer-closest-numa-nodes"] = "true";
  if ($("#f-max-numa").value.trim()) options["max-allowable-numa-nodes"] = $("#f-max-numa").value.trim();
  const kubelet = {
    memory_manager_policy: $("#f-mm-policy").value,
    topology_manager_policy: $("#f-tm-policy").value,
    topology_manager_scope: $("#f-scope").value,
    topology_manager_policy_options: options,
    reserved_memory: reservedMemory,
  };
  const optional = (selector) => $(selector).value.trim();
  if (optional("#f-system-reserved")) kubelet.system_reserved = { memory: optional("#f-system-reserved") };
  if (optional("#f-kube-reserved")) kubelet.kube_reserved = { memory: optional("#f-kube-reserved") };
  if (optional("#f-eviction")) kubelet.eviction_hard = { "memory.available": optional("#f-eviction") };
  return {
    name: $("#f-name").value,
    machine: { numa_nodes: numaNodes, distances: parseDistances($("#f-distances").value) },
    kubelet,
    steps: [],
  };
}

// ---- the reservedMemory linter ----

/** Fill the reserved-memory inputs from the linter's corrected block. */
function applyCorrection(block) {
  const byNode = new Map(block.map((entry) => [entry.numa_node, entry.limits.memory || ""]));
  for (const input of $all("#nodes-body input[data-field='reserved']")) {
    input.value = byNode.get(Number(input.dataset.node)) || "";
  }
}

function renderLint(result) {
  const box = $("#lint-result");
  if (result.outcome === "ok" && !result.findings.length) {
    replaceChildren(box, h("p", { class: "lint ok", "data-lint": "ok", text: "The kubelet starts with this configuration." }));
    return;
  }
  const correction = result.findings.find((item) => item.corrected_reserved_memory);
  replaceChildren(
    box,
    h(
      "div",
      { class: `lint ${result.outcome === "ok" ? "warn" : "bad"}`, "data-lint": result.outcome },
      h("p", {
        text: result.outcome === "ok" ? "The kubelet starts, but:" : "The kubelet would refuse to start:",
      }),
      h(
        "ul",
        {},
        result.findings.map((item) =>
          h(
            "li",
            { "data-code": item.code },
            h("span", { text: item.message }),
            item.kubelet_error ? h("code", { class: "kubelet-words", text: item.kubelet_error }) : null,
          ),
        ),
      ),
      correction && correction.corrected_yaml
        ? [
            h("p", { text: "A reservedMemory that the kubelet accepts:" }),
            h("pre", { class: "code-block", text: correction.corrected_yaml }),
            h("button", {
              type: "button",
              class: "secondary small",
              id: "apply-correction",
              text: "Use this reservedMemory",
              onclick: () => {
                applyCorrection(correction.corrected_reserved_memory);
                checkConfiguration();
              },
            }),
          ]
        : null,
    ),
  );
}

async function checkConfiguration() {
  const form = $("#machine-form");
  const status = $("#machine-status");
  clearErrors(form, $("#machine-errors"));
  status.className = "form-status";
  status.textContent = "Checking…";
  try {
    renderLint(await lintConfiguration(machineDocument()));
    status.textContent = "";
  } catch (error) {
    replaceChildren($("#lint-result"));
    status.className = "form-status error";
    status.textContent = error.detail || "The configuration could not be checked.";
    showFieldErrors(form, $("#machine-errors"), error);
  }
}

function clearErrors(form, list) {
  for (const box of $all("[data-error-for]", form)) box.textContent = "";
  for (const input of $all("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
  replaceChildren(list);
}

/** Put each API error next to the field whose data-path is the longest prefix of the error's path. */
export function showFieldErrors(form, list, error) {
  const boxes = $all("[data-error-for]", form);
  const unplaced = [];
  for (const item of error.errors || []) {
    const path = item.path || "";
    const box = boxes
      .filter((b) => path === b.dataset.errorFor || path.startsWith(`${b.dataset.errorFor}.`) || path.startsWith(`${b.dataset.errorFor}[`))
      .sort((a, b) => b.dataset.errorFor.length - a.dataset.errorFor.length)[0];
    if (box) {
      box.textContent = box.textContent ? `${box.textContent} ${item.message}` : item.message;
      const input = $(`[data-path="${CSS.escape(box.dataset.errorFor)}"]`, form);
      if (input) input.setAttribute("aria-invalid", "true");
    } else unplaced.push(item);
  }
  const lines = error.errors && error.errors.length ? unplaced.map((e) => `${e.path}: ${e.message}`) : errorLines(error);
  replaceChildren(list, lines.map((line) => h("li", { text: line })));
}

async function submitMachine(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = $("#machine-status");
  clearErrors(form, $("#machine-errors"));
  status.className = "form-status";
  status.textContent = "Creating…";
  try {
    openScenario(await createScenario(machineDocument()));
  } catch (error) {
    status.className = "form-status error";
    status.textContent = error.detail || "The scenario was not created.";
    showFieldErrors(form, $("#machine-errors"), error);
    const first = $("[aria-invalid='true']", form);
    if (first) first.focus();
  }
}

// ---- paste / upload ----

async function submitDocument(event) {
  event.preventDefault();
  const status = $("#paste-status");
  const text = $("#f-doc").value.trim();
  replaceChildren($("#paste-errors"));
  if (!text) {
    status.className = "form-status error";
    status.textContent = "Paste a scenario document or choose a file first.";
    return;
  }
  let body = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: send it as YAML and let the API report what is wrong.
  }
  status.className = "form-status";
  status.textContent = "Creating…";
  try {
    openScenario(await createScenario(body));
  } catch (error) {
    status.className = "form-status error";
    status.textContent = error.detail || "The scenario was not created.";
    replaceChildren($("#paste-errors"), errorLines(error).map((line) => h("li", { text: line })));
  }
}

// ---- import a live node ----

async function submitImport(event) {
  event.preventDefault();
  const form = event.currentTarget;
  const status = $("#import-status");
  clearErrors(form, $("#import-errors"));
  const body = {};
  for (const input of $all("[data-import]", form)) {
    if (input.value.trim()) body[input.dataset.import] = input.value;
  }
  if (Object.keys(body).every((key) => key === "name")) {
    status.className = "form-status error";
    status.textContent = "Paste at least one of the node's files first.";
    return;
  }
  status.className = "form-status";
  status.textContent = "Importing…";
  try {
    openScenario(await importNode(body));
  } catch (error) {
    status.className = "form-status error";
    status.textContent = error.detail || "The node was not imported.";
    showFieldErrors(form, $("#import-errors"), error);
  }
}

async function loadFile(event) {
  const file = event.currentTarget.files[0];
  if (file) $("#f-doc").value = await file.text();
}

renderPresets();
renderNodeRows();
$("#f-count").addEventListener("input", renderNodeRows);
$("#f-count").addEventListener("change", renderNodeRows);
$("#machine-form").addEventListener("submit", submitMachine);
$("#paste-form").addEventListener("submit", submitDocument);
$("#f-file").addEventListener("change", loadFile);
$("#import-form").addEventListener("submit", submitImport);
$("#lint-button").addEventListener("click", checkConfiguration);
document.body.dataset.ready = "true";
