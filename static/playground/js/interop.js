// The /import page: paste or upload what a real node has (memory_manager_state, numactl --hardware,
// cadvisor machine info, KubeletConfiguration, --reserved-memory), check what the kubelet would make of
// it (POST /api/v1/import/preview and /lint), and import it as a scenario (POST /api/v1/import).
// Errors are shown next to the box they name ("numactl line 6", "kubelet_configuration.reservedMemory[0]").

import { API_ROOT, saveToken } from "./api.js";
import { $, $all, h, replaceChildren } from "./dom.js";
import { formatBytes } from "./format.js";

const form = $("#interop-form");
const status = $("#x-status");

// ---- talking to the API (the whole JSON body is kept: refusals carry the report and lint findings) ----

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

export async function call(path, body) {
  const response = await fetch(API_ROOT + path, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken() },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = { detail: `The server answered ${response.status} without a JSON body.`, errors: [] };
  }
  return { ok: response.ok, status: response.status, data };
}

// ---- which box a pasted or uploaded text belongs in ----

/** "checkpoint" | "cadvisor" | "numactl" | "kubelet_configuration" | "reserved_memory" | null. */
export function detectKind(text) {
  const trimmed = text.trim();
  if (!trimmed) return null;
  if (trimmed.startsWith("{")) {
    if (/"policyName"|"machineState"/.test(trimmed)) return "checkpoint";
    if (/"topology"|"num_cores"|"machine_id"/.test(trimmed)) return "cadvisor";
  }
  if (/^available:\s*\d+\s+nodes?/m.test(trimmed) || /^node\s+\d+\s+size:/m.test(trimmed)) return "numactl";
  if (/KubeletConfiguration|^(memoryManagerPolicy|reservedMemory|topologyManagerPolicy)\s*:/m.test(trimmed)) {
    return "kubelet_configuration";
  }
  if (/^(--reserved-memory[= ])?\d+:[a-z]/.test(trimmed) && !trimmed.includes("\n")) return "reserved_memory";
  return null;
}

function box(field) {
  return $(`[data-field="${field}"]`, form);
}

async function loadFiles(event) {
  const notes = [];
  for (const file of event.currentTarget.files) {
    const text = await file.text();
    const kind = detectKind(text) || (file.name.includes("memory_manager_state") ? "checkpoint" : null);
    if (kind) {
      box(kind).value = kind === "reserved_memory" ? text.trim() : text;
      notes.push(`${file.name} → ${box(kind).labels[0].textContent.trim()}`);
    } else {
      notes.push(`${file.name}: not recognised (paste it in the right box)`);
    }
  }
  $("#x-files-note").textContent = notes.join("; ");
}

function requestBody() {
  const body = {};
  for (const input of $all("[data-field]", form)) {
    if (input.value.trim()) body[input.dataset.field] = input.value;
  }
  return body;
}

function hasFiles(body) {
  return Object.keys(body).some((key) => key !== "name");
}

// ---- errors next to their box ----

function clearErrors() {
  for (const slot of $all("[data-error-for]", form)) slot.textContent = "";
  for (const input of $all("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
  replaceChildren($("#x-errors"));
}

/** The box an error path belongs to: "numactl line 6" and "reserved_memory[1]" name their box first. */
export function fieldOf(path) {
  const match = /^[a-z_]+/.exec(path || "");
  return match ? match[0] : "";
}

function showErrors(data) {
  const unplaced = [];
  for (const error of data.errors || []) {
    const slot = $(`[data-error-for="${CSS.escape(fieldOf(error.path))}"]`, form);
    if (slot) {
      const line = error.path && error.path !== fieldOf(error.path) ? `${error.path}: ${error.message}` : error.message;
      slot.textContent = slot.textContent ? `${slot.textContent} ${line}` : line;
      box(fieldOf(error.path)).setAttribute("aria-invalid", "true");
    } else {
      unplaced.push(error.path ? `${error.path}: ${error.message}` : error.message);
    }
  }
  replaceChildren($("#x-errors"), unplaced.map((line) => h("li", { text: line })));
  const first = $("[aria-invalid='true']", form);
  if (first) first.focus();
}

// ---- the report ----

function definition(term, value) {
  return [h("dt", { text: term }), h("dd", {}, value)];
}

function checkpointReport(report) {
  const checksum = {
    valid: "valid (as the kubelet writes it)",
    "valid-v1-type-name": "valid (V1 type name; the kubelet accepts it)",
    "unchecked-zero": "0: the kubelet accepts it without checking",
    corrupt: `does not match the content (expected ${report.expected_checksum})`,
  }[report.checksum_status] || report.checksum_status;
  const rows = [
    ...definition("policy", report.policy_name || "(none)"),
    ...definition("checksum", `${report.checksum}: ${checksum}`),
    ...definition("pods in the file", String(report.pods)),
    ...definition("kubelet starts", report.kubelet_would_start ? "yes" : `no: ${report.error}`),
  ];
  if (report.reexport_identical !== undefined) {
    rows.push(
      ...definition(
        "export",
        report.reexport_identical
          ? "byte-identical to the file"
          : "the same content, in the kubelet's own layout (this file was re-indented or re-signed)",
      ),
    );
  }
  return [
    h("h3", { text: "memory_manager_state" }),
    h("dl", { class: "report-list", id: "x-checkpoint-report" }, rows),
    (report.inferred || []).length
      ? h("ul", { class: "small-text muted" }, report.inferred.map((text) => h("li", { text: `inferred: ${text}` })))
      : null,
    (report.problems || []).length
      ? h("ul", { class: "errors-list" }, report.problems.map((text) => h("li", { text })))
      : null,
  ];
}

function machineTable(machine) {
  if (!machine || !Array.isArray(machine.numa_nodes)) return null;
  const resources = [...new Set(machine.numa_nodes.flatMap((node) => Object.keys(node).filter((k) => k.startsWith("hugepages-"))))].sort();
  return [
    h("h3", { text: "Machine" }),
    h(
      "table",
      { class: "report-table", id: "x-machine" },
      h("thead", {}, h("tr", {}, h("th", { text: "NUMA node" }), h("th", { text: "memory" }), resources.map((r) => h("th", { text: r })))),
      h(
        "tbody",
        {},
        machine.numa_nodes.map((node) =>
          h(
            "tr",
            {},
            h("td", { text: String(node.id) }),
            h("td", { text: formatBytes(node.memory) }),
            resources.map((r) => h("td", { text: r in node ? formatBytes(node[r]) : "-" })),
          ),
        ),
      ),
    ),
  ];
}

function kubeletSummary(kubelet) {
  if (!kubelet) return null;
  const reserved = (kubelet.reserved_memory || [])
    .map((entry) => `${entry.numa_node}:` + Object.entries(entry.limits || {}).map(([k, v]) => `${k}=${formatBytes(v)}`).join(","))
    .join(";");
  return [
    h("h3", { text: "Kubelet" }),
    h(
      "dl",
      { class: "report-list", id: "x-kubelet" },
      definition("memory manager policy", kubelet.memory_manager_policy || "Static"),
      definition("topology manager", `${kubelet.topology_manager_policy || "none"} / ${kubelet.topology_manager_scope || "container"}`),
      definition("reserved memory", reserved || "(none)"),
    ),
  ];
}

function lintReport(lint) {
  if (!lint) return null;
  const yaml = (lint.findings || []).map((f) => f.corrected_yaml).find(Boolean);
  return [
    h("h3", { text: "reservedMemory linter" }),
    h("p", { id: "x-lint-outcome", class: lint.outcome === "ok" ? "ok" : "bad" },
      lint.outcome === "ok" ? "The kubelet starts with this configuration." : `The kubelet refuses to start: ${lint.error}`),
    (lint.findings || []).length
      ? h("ul", { class: "findings" }, lint.findings.map((f) => h("li", { text: `[${f.code}] ${f.message}` })))
      : null,
    yaml ? [h("p", { class: "small-text", text: "Corrected block:" }), h("pre", { class: "code", id: "x-corrected", text: yaml })] : null,
  ];
}

function renderReport({ report, machine, kubelet, pods, lint }) {
  const panel = $("#x-report-panel");
  panel.hidden = false;
  replaceChildren(
    $("#x-report"),
    report && report.kind === "checkpoint" ? checkpointReport(report) : null,
    machineTable(machine),
    kubeletSummary(kubelet),
    pods && pods.length ? [h("h3", { text: "Pods" }), h("ul", {}, pods.map((p) => h("li", { text: `${p.metadata.name} (uid ${p.metadata.uid})` })))] : null,
    lintReport(lint),
  );
}

// ---- actions ----

function busy(text) {
  status.className = "form-status";
  status.textContent = text;
}

function failed(data, fallback) {
  status.className = "form-status error";
  status.textContent = data.detail || fallback;
  showErrors(data);
  if (data.report || data.lint) renderReport({ report: data.report, lint: data.lint });
}

async function check() {
  clearErrors();
  const body = requestBody();
  if (!hasFiles(body)) return failed({ detail: "Paste or upload at least one of the node's files first." });
  busy("Checking…");
  const preview = await call("/import/preview", body);
  const canLint = body.numactl || body.cadvisor;
  const lint = canLint ? await call("/lint", body) : null;
  if (!preview.ok) {
    failed({ ...preview.data, lint: preview.data.lint || (lint && lint.ok ? lint.data : undefined) }, "The files do not import.");
    return;
  }
  status.className = "form-status ok";
  status.textContent = "The kubelet would start with this: import it to explore.";
  renderReport({ ...preview.data, lint: lint && lint.ok ? lint.data : null });
}

async function submit(event) {
  event.preventDefault();
  clearErrors();
  const body = requestBody();
  if (!hasFiles(body)) return failed({ detail: "Paste or upload at least one of the node's files first." });
  busy("Importing…");
  const created = await call("/import", body);
  if (!created.ok) return failed(created.data, "The node was not imported.");
  saveToken(created.data.id, created.data.edit_token);
  location.assign(`/s/${encodeURIComponent(created.data.id)}/`);
}

$("#x-files").addEventListener("change", loadFiles);
$("#x-check").addEventListener("click", check);
form.addEventListener("submit", submit);
document.body.dataset.ready = "true";
