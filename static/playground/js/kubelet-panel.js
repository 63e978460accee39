// The "Kubelet" panel of the scenario page (templates/playground/_kubelet_panel.html): downloads of what
// the kubelet writes, the reservedMemory linter (POST /api/v1/lint) with its corrected block, and the
// "restart kubelet" what-if with a drift knob (POST .../restart/preview; "for real": POST .../restart).
// Self-contained: it reads the scenario from the API when asked, so it never depends on the page's state.

import { errorLines, request, tokenFor } from "./api.js";
import { $, h, replaceChildren } from "./dom.js";
import { toQuantity } from "./format.js";

const panel = $("#kubelet-panel");
const scenarioId = panel.dataset.scenarioId;
const path = (tail) => `/scenarios/${encodeURIComponent(scenarioId)}${tail}`;

/** One API call: {ok, data} with the answer, or {ok: false, data: {detail}} with the refusal in words. */
async function call(method, tail, body, token) {
  try {
    return { ok: true, data: await request(method, tail, { body, token }) };
  } catch (error) {
    const lines = errorLines(error);
    const words = error.detail && !lines.includes(error.detail) ? [error.detail, ...lines] : lines;
    return { ok: false, data: { detail: words.join(" ") } };
  }
}

function say(id, text, kind = "") {
  const box = $(id);
  box.className = `form-status ${kind}`.trim();
  box.textContent = text;
}

async function scenario() {
  const { ok, data } = await call("GET", path(""));
  if (!ok) throw new Error(data.detail);
  return data;
}

// ---- the linter ----

/** reserved_memory entries -> "0:memory=512Mi,hugepages-1Gi=2Gi;1:memory=0". */
export function flagOf(reserved) {
  return (reserved || [])
    .map((entry) => `${entry.numa_node}:` + Object.keys(entry.limits).sort().map((k) => `${k}=${toQuantity(entry.limits[k])}`).join(","))
    .join(";");
}

/** The scenario's kubelet as a lint document: empty maps dropped, so the kubelet's defaults apply. */
function kubeletForLint(kubelet) {
  const out = {};
  for (const [key, value] of Object.entries(kubelet || {})) {
    if (value === null || (typeof value === "object" && !Array.isArray(value) && !Object.keys(value).length)) continue;
    out[key] = value;
  }
  return out;
}

async function lint(event) {
  if (event) event.preventDefault();
  say("#k-lint-status", "Checking…");
  try {
    const view = await scenario();
    const kubelet = kubeletForLint(view.kubelet);
    const system = $("#k-system").value.trim();
    const kube = $("#k-kube").value.trim();
    if (system) kubelet.system_reserved = { ...(kubelet.system_reserved || {}), memory: system };
    if (kube) kubelet.kube_reserved = { ...(kubelet.kube_reserved || {}), memory: kube };
    const body = { machine: view.machine, kubelet };
    const flag = $("#k-flag").value.trim();
    if (flag) body.reserved_memory = flag;
    else kubelet.reserved_memory = [];
    const { ok, data } = await call("POST", "/lint", body);
    if (!ok) {
      say("#k-lint-status", data.detail, "error");
      replaceChildren($("#k-lint-result"));
      return;
    }
    say("#k-lint-status", "");
    renderLint(data);
  } catch (error) {
    say("#k-lint-status", String(error.message || error), "error");
  }
}

function renderLint(result) {
  const corrected = (result.findings || []).map((f) => f.corrected_yaml).find(Boolean);
  replaceChildren(
    $("#k-lint-result"),
    h(
      "p",
      { id: "k-lint-outcome", class: result.outcome === "ok" ? "ok" : "bad" },
      result.outcome === "ok" ? "A real kubelet starts with this reservedMemory." : `A real kubelet refuses to start: ${result.error}`,
    ),
    result.findings && result.findings.length
      ? h("ul", { class: "findings", id: "k-findings" }, result.findings.map((f) => h("li", { text: f.message })))
      : null,
    corrected && result.outcome !== "ok"
      ? [h("p", { class: "small-text", text: "Corrected block (KubeletConfiguration):" }), h("pre", { class: "code", id: "k-corrected", text: corrected })]
      : null,
  );
}

// ---- the restart what-if ----

function driftedMachine(view) {
  const machine = JSON.parse(JSON.stringify(view.machine));
  const id = Number($("#k-drift-node").value);
  const kib = Number($("#k-drift-kib").value) || 0;
  const node = machine.numa_nodes.find((n) => Number(n.id) === id);
  if (node) node.memory = Number(node.memory) + kib * 1024;
  return { machine, changed: kib !== 0 };
}

function renderRestart(result, drift, applied) {
  const started = result.started;
  const lines = [];
  if (started) {
    const pods = Object.keys((result.outcome && result.outcome.checkpoint && result.outcome.checkpoint.entries) || {}).length;
    lines.push(h("p", { class: "ok", id: "k-restart-outcome", text: `The kubelet comes back: ${pods} pod(s) restored from its checkpoint.` }));
  } else {
    const error = result.panic ? `it panics: ${result.panic}` : `it refuses to start (${result.stage}): ${result.error}`;
    lines.push(h("p", { class: "bad", id: "k-restart-outcome", text: `The kubelet does not come back: ${error}` }));
    if (result.outcome && result.outcome.container_manager_error) {
      lines.push(h("pre", { class: "code", text: result.outcome.container_manager_error }));
    }
    if (drift) {
      lines.push(h("p", { class: "small-text muted", text: "Drain the node and delete /var/lib/kubelet/memory_manager_state before restarting the kubelet." }));
    }
  }
  if (applied) lines.push(h("p", { class: "small-text", text: "Applied: the restart is now a step of this scenario." }));
  replaceChildren($("#k-restart-result"), lines);
}

async function restart(event, forReal = false) {
  if (event) event.preventDefault();
  say("#k-restart-status", forReal ? "Restarting…" : "Asking…");
  try {
    const view = await scenario();
    const { machine, changed } = driftedMachine(view);
    const body = changed ? { changes: { machine } } : {};
    if (forReal) {
      const { ok, data } = await call("POST", path("/restart"), body, tokenFor(scenarioId));
      if (!ok) return say("#k-restart-status", data.detail, "error");
      const outcome = data.outcome || {};
      renderRestart({ started: outcome.started && !outcome.panic, stage: outcome.stage, error: outcome.error, panic: outcome.panic, outcome }, changed, true);
    } else {
      const { ok, data } = await call("POST", path("/restart/preview"), body);
      if (!ok) return say("#k-restart-status", data.detail, "error");
      renderRestart(data, changed, false);
    }
    say("#k-restart-status", "");
  } catch (error) {
    say("#k-restart-status", String(error.message || error), "error");
  }
}

// ---- start ----

async function start() {
  try {
    const view = await scenario();
    replaceChildren($("#k-drift-node"), view.machine.numa_nodes.map((n) => h("option", { value: String(n.id), text: `NUMA ${n.id}` })));
    $("#k-flag").value = flagOf(view.kubelet.reserved_memory);
    const reserved = view.kubelet.system_reserved || {};
    if (reserved.memory) $("#k-system").value = toQuantity(reserved.memory);
  } catch (error) {
    say("#k-lint-status", String(error.message || error), "error");
  }
  $("#k-restart-apply").hidden = !tokenFor(scenarioId);
  $("#k-lint-form").addEventListener("submit", lint);
  $("#k-restart-form").addEventListener("submit", (event) => restart(event, false));
  $("#k-restart-apply").addEventListener("click", (event) => restart(event, true));
  panel.dataset.ready = "true";
}

start();
