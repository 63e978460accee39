// The timeline: every event of the scenario, newest last; clicking one travels to its version.

import { h } from "./dom.js";

function eventSummary(event) {
  const o = event.outcome || {};
  if (event.op === "admit") {
    if (o.panic) return `${event.pod_name}: the real kubelet would crash here`;
    return o.admitted ? `${event.pod_name} admitted` : `${event.pod_name} rejected: ${o.reason}`;
  }
  if (event.op === "remove") return `${event.pod_name || event.pod_uid} deleted`;
  if (event.op === "create") return "scenario created";
  if (event.op === "restart") return "kubelet restarted";
  return event.op;
}

// Long histories (thousands of steps) only draw the events around the version shown.
const WINDOW = 200;

/** events: oldest first; viewing: the version shown; selected: the explained version. */
export function renderEvents(events, { viewing, selected, onPick }) {
  if (!events.length) return [h("li", { class: "empty", text: "No events yet." })];
  let at = events.findIndex((event) => event.version >= viewing);
  if (at < 0) at = events.length - 1;
  const start = Math.max(0, Math.min(at - WINDOW / 2, events.length - WINDOW));
  const shown = events.slice(start, start + WINDOW);
  const before = start;
  const after = events.length - start - shown.length;
  const note = (count, where) =>
    count ? h("li", { class: "empty", text: `… ${count} ${where} event${count === 1 ? "" : "s"} (use Back / Forward)` }) : null;
  return [note(before, "earlier"), ...shown.map((event) => eventItem(event, viewing, selected, onPick)), note(after, "later")].filter(Boolean);
}

function eventItem(event, viewing, selected, onPick) {
  const o = event.outcome || {};
  const status = event.op !== "admit" ? null : o.admitted ? "ok" : "bad";
  const cls = ["event"];
  if (event.version === viewing) cls.push("current");
  if (viewing != null && event.version > viewing) cls.push("future");
  return h(
    "li",
    {
      class: cls.join(" "),
      tabindex: 0,
      role: "button",
      "aria-pressed": event.version === selected ? "true" : "false",
      "data-version": event.version,
      "data-op": event.op,
      onclick: () => onPick(event),
      onkeydown: (e) => {
        if (e.key === "Enter" || e.key === " ") {
          e.preventDefault();
          onPick(event);
        }
      },
    },
    h("span", { class: "v", text: `v${event.version}` }),
    h("span", { class: "op", text: event.op }),
    h("span", { class: "what", text: eventSummary(event), title: eventSummary(event) }),
    status ? h("span", { class: `badge ${status}`, text: status === "ok" ? "admitted" : "rejected" }) : h("span"),
  );
}
