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

/** events: oldest first; viewing: the version shown; selected: the explained version. */
export function renderEvents(events, { viewing, selected, onPick }) {
  if (!events.length) return [h("li", { class: "empty", text: "No events yet." })];
  return events.map((event) => {
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
  });
}
