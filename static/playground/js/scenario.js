// The scenario page: the NUMA picture, pods, submit form, explainer and timeline, kept live over
// the scenario's websocket. The page holds the latest scenario view; time travel shows an older
// version (fetched from /state?version=N) read-only without losing live updates.

import {
  ApiError,
  canEditWith,
  deletePod,
  createScenario,
  errorLines,
  exportScenario,
  forkScenario,
  getEvents,
  getScenario,
  getStateAt,
  restartKubelet,
  saveToken,
  submitPods,
  tokenFor,
} from "./api.js";
import { $, h, replaceChildren } from "./dom.js";
import { renderExplainer } from "./explainer.js";
import { formatBytes } from "./format.js";
import { clearPodErrors, freshPodName, placePodErrors, resetPodForm, wirePodForm, yamlExample } from "./podform.js";
import { renderPods } from "./pods.js";
import { renderMachine } from "./render/numa.js";
import { connectScenario } from "./socket.js";
import { renderEvents } from "./timeline.js";

const scenarioId = document.body.dataset.scenarioId;
const page = {
  live: JSON.parse($("#scenario-data").textContent),
  events: [],
  viewing: null, // null: live; otherwise the version shown from the past
  past: null, // {version, state, numa_groups, pods} for `viewing`
  selected: null, // version of the event in the explainer
  followLatest: true, // the explainer follows new admissions until the user picks one
  token: tokenFor(scenarioId),
  socket: null,
};
const pastCache = new Map();

// ---- helpers ----

function toast(text) {
  const box = $("#toast");
  box.textContent = text;
  box.classList.add("show");
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => box.classList.remove("show"), 2500);
}

function canEdit() {
  return Boolean(page.token);
}

function maskWidth() {
  const ids = Object.keys(page.live.state || {}).map(Number);
  return ids.length ? Math.max(...ids) + 1 : 1;
}

function shownView() {
  if (page.viewing === null || !page.past) return page.live;
  return { ...page.past, machine: page.live.machine };
}

function latestAdmitVersion() {
  const admits = page.events.filter((event) => event.op === "admit");
  return admits.length ? admits[admits.length - 1].version : null;
}

function eventAt(version) {
  return page.events.find((event) => event.version === version) || null;
}

function mergeEvents(events) {
  const byVersion = new Map(page.events.map((event) => [event.version, event]));
  for (const event of events) byVersion.set(event.version, event);
  page.events = [...byVersion.values()].sort((a, b) => a.version - b.version);
}

function applyScenario(view) {
  if (view && view.version >= page.live.version) page.live = view;
}

/**
 * An event's delta (docs/CONTRACTS.md section 4) applied to the live view: only onto the version just
 * before it. Anything else is a gap, for which socket.js has already asked for a snapshot.
 */
function applyDelta(version, delta) {
  if (!delta || version !== page.live.version + 1) return;
  const removed = new Set(delta.pods_removed || []);
  const added = delta.pods_added || [];
  const addedNames = new Set(added.map((pod) => pod.name));
  const blocks = delta.containers || {};
  const withBlocks = (pod) => {
    if (delta.containers_complete) return { ...pod, containers: blocks[pod.uid] || {} };
    return Object.hasOwn(blocks, pod.uid) ? { ...pod, containers: blocks[pod.uid] } : pod;
  };
  const kept = (page.live.pods || []).filter((pod) => !removed.has(pod.name) && !addedNames.has(pod.name));
  page.live = {
    ...page.live,
    version,
    state: delta.state,
    numa_groups: delta.numa_groups,
    pods: [...kept.map(withBlocks), ...added],
  };
}

// ---- rendering ----

function renderHeader() {
  const live = page.live;
  $("#scenario-name").textContent = live.name;
  document.title = `${live.name} · Memory Manager Playground`;
  $("#version-badge").textContent = `version ${live.version}`;
  document.body.dataset.version = String(live.version);
  document.body.dataset.readonly = canEdit() ? "false" : "true";
  $("#readonly-badge").hidden = canEdit();
  const forked = $("#forked-from");
  replaceChildren(
    forked,
    live.forked_from
      ? ["forked from ", h("a", { href: `/s/${encodeURIComponent(live.forked_from.id)}/`, text: live.forked_from.id }), ` at version ${live.forked_from.version}`]
      : [],
  );
  const k = live.kubelet || {};
  const options = Object.entries(k.topology_manager_policy_options || {}).map(([key, value]) => `${key}=${value}`);
  const reserved = reservedSummary(k.reserved_memory || [], Object.keys(live.state || {}).length);
  const item = (label, value) => [h("span", { text: label }), h("code", { text: value })];
  replaceChildren(
    $("#config-line"),
    item("memory manager", k.memory_manager_policy || "Static"),
    item("topology manager", k.topology_manager_policy || "none"),
    item("scope", k.topology_manager_scope || "container"),
    options.length ? item("options", options.join(" ")) : null,
    reserved.length ? item("reservedMemory", reserved.join(" · ")) : null,
  );
}

/** reservedMemory in a few words: "memory 1Gi on each NUMA node" when every node has the same. */
function reservedSummary(entries, nodeCount) {
  const describe = (r) =>
    Object.entries(r.limits || {})
      .map(([name, bytes]) => `${name} ${formatBytes(bytes)}`)
      .join(", ");
  const texts = entries.map(describe);
  if (entries.length > 1 && entries.length === nodeCount && texts.every((text) => text === texts[0])) {
    return [`${texts[0]} on each NUMA node`];
  }
  return entries.map((r, i) => `NUMA ${r.numa_node}: ${texts[i]}`);
}

function selectedPodName() {
  const event = eventAt(page.selected);
  return event ? event.pod_name : null;
}

function renderPicture() {
  const view = shownView();
  const svg = renderMachine(view, {
    width: $("#picture").clientWidth,
    selectedPod: selectedPodName(),
    onSelectPod: (name) => selectPod(view.pods.find((pod) => pod.name === name)),
  });
  replaceChildren($("#picture"), svg);
  const pastBanner = page.viewing !== null;
  document.body.dataset.past = pastBanner ? "true" : "false";
  document.body.dataset.viewingVersion = String(pastBanner ? page.viewing : page.live.version);
  $("#past-text").textContent = pastBanner
    ? `Showing version ${page.viewing} of ${page.live.version}: the past, read-only. New events still arrive.`
    : "";
}

/** Checkpoint and metrics downloads follow the version shown. */
function renderExportLinks() {
  for (const link of document.querySelectorAll("#export-menu a[data-versioned]")) {
    const base = `/api/v1/scenarios/${encodeURIComponent(scenarioId)}/${link.dataset.export}`;
    link.href = page.viewing === null ? base : `${base}?version=${page.viewing}`;
  }
}

function renderPodList() {
  const pods = shownView().pods || [];
  const running = pods.filter((pod) => pod.status === "Running").length;
  $("#pods-count").textContent = pods.length ? `${running} running · ${pods.length - running} failed` : "";
  replaceChildren(
    $("#pods"),
    renderPods(pods, {
      selectedPod: selectedPodName(),
      canEdit: canEdit() && page.viewing === null,
      onSelect: selectPod,
      onDelete: removePod,
    }),
  );
}

function renderTimeline() {
  const viewing = page.viewing === null ? page.live.version : page.viewing;
  const slider = $("#version-slider");
  const first = page.events.length ? page.events[0].version : 0;
  slider.min = String(first);
  slider.max = String(page.live.version);
  slider.value = String(viewing);
  $("#step-back").disabled = viewing <= first;
  $("#step-forward").disabled = viewing >= page.live.version;
  $("#viewing-badge").textContent = page.viewing === null ? "live" : `viewing v${page.viewing}`;
  replaceChildren($("#events"), renderEvents(page.events, { viewing, selected: page.selected, onPick: pickEvent }));
  // Scroll the list itself (never the page) so the version shown is in view.
  const list = $("#events");
  const current = $("#events .event.current");
  if (current) list.scrollTop = Math.max(0, current.offsetTop - list.clientHeight / 2);
}

function renderExplain() {
  const event = eventAt(page.selected);
  replaceChildren($("#explainer"), renderExplainer(event, { width: maskWidth() }));
  document.body.dataset.explained = event ? String(event.version) : "";
}

function render() {
  renderHeader();
  renderExportLinks();
  renderPicture();
  renderPodList();
  renderTimeline();
  renderExplain();
}

// ---- selection and time travel ----

function pickEvent(event) {
  page.selected = event.version;
  page.followLatest = event.version === page.live.version;
  travel(event.version);
}

function selectPod(pod) {
  if (!pod) return;
  let version = pod.admitted_version;
  if (version === null || version === undefined || !eventAt(version)) {
    const admits = page.events.filter((event) => event.op === "admit" && event.pod_name === pod.name);
    version = admits.length ? admits[admits.length - 1].version : null;
  }
  if (version === null) return;
  page.selected = version;
  page.followLatest = false;
  render();
  $("#explainer").scrollIntoView({ block: "nearest", behavior: "smooth" });
}

async function travel(version) {
  const target = version === null || version === undefined ? Number.NaN : Number(version);
  if (!Number.isFinite(target) || target >= page.live.version) {
    page.viewing = null;
    page.past = null;
    history.replaceState(null, "", location.pathname);
    render();
    return;
  }
  try {
    if (!pastCache.has(target)) pastCache.set(target, await getStateAt(scenarioId, target));
    page.viewing = target;
    page.past = pastCache.get(target);
    history.replaceState(null, "", `${location.pathname}?version=${target}`);
  } catch (error) {
    toast(errorLines(error).join("; "));
  }
  render();
}

// ---- live updates ----

function onSnapshot(message) {
  applyScenario(message.scenario);
  refreshEvents().then(render);
  render();
}

// `more`: socket.js is applying a batch and another event of it follows; render after the last.
function onEvent(message, { more = false } = {}) {
  if (message.event) mergeEvents([message.event]);
  if (message.scenario) applyScenario(message.scenario);
  else applyDelta(message.version, message.delta);
  if (page.followLatest && message.event && ["admit", "restart"].includes(message.event.op)) {
    page.selected = message.event.version;
  }
  if (!more) render();
}

function onStatus(status) {
  document.body.dataset.ws = status;
  $("#live-badge").textContent = status === "open" ? "live" : status === "connecting" ? "connecting…" : "offline, reconnecting…";
}

async function refreshEvents() {
  try {
    // The API pages events (1000 at a time); keep asking until we hold them all.
    for (let pages = 0; pages < 100; pages += 1) {
      const after = page.events.length ? page.events[page.events.length - 1].version : -1;
      const { events } = await getEvents(scenarioId, after);
      mergeEvents(events || []);
      if (!events || events.length < 1000) break;
    }
    if (page.followLatest) page.selected = latestAdmitVersion() ?? page.selected;
  } catch (error) {
    toast(errorLines(error).join("; "));
  }
}

async function refreshAll() {
  try {
    applyScenario(await getScenario(scenarioId));
  } catch (error) {
    toast(errorLines(error).join("; "));
  }
  await refreshEvents();
  render();
}

// ---- writes ----

function handleWriteError(error, statusBox, errorsBox, form) {
  if (error instanceof ApiError && (error.status === 401 || error.status === 403)) {
    page.token = null;
    render();
  }
  statusBox.className = "form-status error";
  statusBox.textContent = error.detail || "The request failed.";
  if (form && error instanceof ApiError && error.errors.length) {
    const unplaced = placePodErrors(form, error.errors);
    if (unplaced.length < error.errors.length) statusBox.textContent = "Not submitted: see the marked field.";
    const lines = unplaced.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message));
    replaceChildren(errorsBox, lines.map((line) => h("li", { text: line })));
    const first = form.querySelector("[aria-invalid='true']");
    if (first) first.focus();
    return;
  }
  replaceChildren(errorsBox, errorLines(error).map((line) => h("li", { text: line })));
}

async function submit(body, statusBox, errorsBox, button, form = null) {
  statusBox.className = "form-status";
  statusBox.textContent = "Submitting…";
  replaceChildren(errorsBox);
  if (form) clearPodErrors(form);
  button.disabled = true;
  try {
    const result = await submitPods(scenarioId, page.token, body);
    const outcomes = result.outcomes || [];
    const rejected = outcomes.filter((o) => o && o.admitted === false).length;
    statusBox.className = `form-status ${rejected ? "error" : "ok"}`;
    statusBox.textContent = rejected
      ? `${outcomes.length - rejected} admitted, ${rejected} rejected: see why below.`
      : `Admitted (version ${result.version}).`;
    page.followLatest = true;
    await travel(null);
    await refreshAll();
    return true;
  } catch (error) {
    handleWriteError(error, statusBox, errorsBox, form);
    return false;
  } finally {
    button.disabled = false;
  }
}

async function submitFormPod(pod) {
  const form = $("#pod-form");
  const ok = await submit(pod, $("#pod-status"), $("#pod-errors"), $("#pod-submit"), form);
  if (ok) resetPodForm(form, page.live.pods);
}

async function submitYaml(event) {
  event.preventDefault();
  const text = $("#pod-yaml").value;
  if (!text.trim()) {
    $("#yaml-status").className = "form-status error";
    $("#yaml-status").textContent = "Paste a pod first.";
    return;
  }
  await submit(text, $("#yaml-status"), $("#yaml-errors"), $("#yaml-submit"));
}

async function removePod(pod) {
  try {
    await deletePod(scenarioId, page.token, pod.name);
    toast(`Deleted ${pod.name}`);
    await refreshAll();
  } catch (error) {
    toast(errorLines(error).join("; "));
  }
}

async function restart() {
  try {
    const { outcome } = await restartKubelet(scenarioId, page.token);
    toast(outcome && outcome.started ? "The kubelet restarted from its checkpoint." : "The kubelet would not start: see why.");
    page.followLatest = true;
    await travel(null);
    await refreshAll();
    page.selected = page.live.version;
    render();
  } catch (error) {
    toast(errorLines(error).join("; "));
  }
}

/** The same machine and history under other kubelet settings, as a new scenario (policy what-if). */
async function replayWhatIf(event) {
  event.preventDefault();
  const status = $("#whatif-status");
  status.className = "form-status";
  status.textContent = "Replaying…";
  try {
    const doc = await exportScenario(scenarioId);
    delete doc.initial_state;
    for (const step of doc.steps || []) delete step.expect;
    const kubelet = { ...(doc.kubelet || {}) };
    kubelet.topology_manager_policy = $("#w-policy").value;
    kubelet.topology_manager_scope = $("#w-scope").value;
    const options = { ...(kubelet.topology_manager_policy_options || {}) };
    if ($("#w-prefer-closest").checked) options["prefer-closest-numa-nodes"] = "true";
    else delete options["prefer-closest-numa-nodes"];
    kubelet.topology_manager_policy_options = options;
    doc.kubelet = kubelet;
    doc.name = `${page.live.name} (what if ${kubelet.topology_manager_policy}, ${kubelet.topology_manager_scope} scope)`;
    const created = await createScenario(doc);
    saveToken(created.id, created.edit_token);
    location.assign(`/s/${encodeURIComponent(created.id)}/`);
  } catch (error) {
    status.className = "form-status error";
    status.textContent = errorLines(error).join("; ");
  }
}

function presetWhatIf() {
  const k = page.live.kubelet || {};
  $("#w-policy").value = k.topology_manager_policy || "none";
  $("#w-scope").value = k.topology_manager_scope || "container";
  $("#w-prefer-closest").checked = (k.topology_manager_policy_options || {})["prefer-closest-numa-nodes"] === "true";
}

async function fork(version) {
  try {
    const created = await forkScenario(scenarioId, version);
    saveToken(created.id, created.edit_token);
    location.assign(`/s/${encodeURIComponent(created.id)}/`);
  } catch (error) {
    toast(errorLines(error).join("; "));
  }
}

async function share() {
  const base = page.live.share_url || location.href.split("?")[0];
  // Viewing the past: the link opens that version (the page reads ?version=N).
  const url = page.viewing === null ? base : `${base}?version=${page.viewing}`;
  try {
    await navigator.clipboard.writeText(url);
    toast("Link copied. Anyone with it sees this scenario live, read-only.");
  } catch {
    toast(url);
  }
  $("#share-button").dataset.url = url;
}

// ---- wiring ----

function wireTabs() {
  const tabs = [
    [$("#tab-form"), $("#pane-form")],
    [$("#tab-yaml"), $("#pane-yaml")],
  ];
  for (const [tab] of tabs) {
    tab.addEventListener("click", () => {
      for (const [other, pane] of tabs) {
        const on = other === tab;
        other.setAttribute("aria-selected", on ? "true" : "false");
        pane.hidden = !on;
      }
    });
  }
}

/** Hovering a hint (or the merged hint) in the explainer outlines its NUMA nodes in the picture. */
function wireHintHighlight() {
  const explainer = $("#explainer");
  const highlight = (ids) => {
    for (const node of document.querySelectorAll("svg.machine .numa-node")) {
      node.classList.toggle("hinted", ids.includes(node.getAttribute("data-numa-id")));
    }
  };
  explainer.addEventListener("mouseover", (event) => {
    const target = event.target.closest("[data-numa]");
    highlight(target && target.dataset.numa ? target.dataset.numa.split(",") : []);
  });
  explainer.addEventListener("mouseleave", () => highlight([]));
}

function wire() {
  wireTabs();
  wireHintHighlight();
  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(renderPicture, 150);
  });
  wirePodForm($("#pod-form"), submitFormPod);
  resetPodForm($("#pod-form"), page.live.pods);
  $("#pod-yaml").value = yamlExample(freshPodName(page.live.pods));
  $("#yaml-form").addEventListener("submit", submitYaml);
  $("#share-button").addEventListener("click", share);
  $("#fork-button").addEventListener("click", () => fork(page.viewing));
  $("#fork-readonly").addEventListener("click", () => fork(page.viewing));
  $("#fork-here").addEventListener("click", () => fork(page.viewing === null ? page.live.version : page.viewing));
  $("#back-to-live").addEventListener("click", () => travel(null));
  $("#restart-kubelet").addEventListener("click", restart);
  $("#whatif-form").addEventListener("submit", replayWhatIf);
  presetWhatIf();
  $("#version-slider").addEventListener("change", (e) => travel(Number(e.target.value)));
  $("#step-back").addEventListener("click", () => {
    const current = page.viewing === null ? page.live.version : page.viewing;
    travel(current - 1);
  });
  $("#step-forward").addEventListener("click", () => {
    const current = page.viewing === null ? page.live.version : page.viewing;
    travel(current + 1);
  });
}

/** A stored token that no longer (or never did) match this scenario makes the page read-only. */
async function checkToken() {
  if (!page.token) return;
  try {
    const { can_edit: canEditNow } = await canEditWith(scenarioId, page.token);
    if (!canEditNow) page.token = null;
  } catch {
    // Offline or an older server: keep the token; a write would tell us if it is wrong.
  }
}

async function start() {
  wire();
  render();
  await checkToken();
  page.socket = connectScenario(scenarioId, {
    heldVersion: () => page.live.version,
    onSnapshot,
    onEvent,
    onStatus,
  });
  await refreshEvents();
  const wanted = new URLSearchParams(location.search).get("version");
  if (wanted !== null) await travel(Number(wanted));
  else render();
  document.body.dataset.ready = "true";
}

start();
