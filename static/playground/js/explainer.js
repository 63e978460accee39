// The explainer: for one event, what the kubelet considered and decided, in the order it does it
// (hints per resource -> Topology Manager merge and policy verdict -> Memory Manager allocation),
// ending with the engine's plain-language summary. Built from the explanation record of
// docs/CONTRACTS.md section 2, falling back to the raw replay outcome.

import { h } from "./dom.js";
import { formatBytes, maskBits, maskIds, sortResources } from "./format.js";

const sameMask = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function hintRows(hints, merged, width) {
  const rows = [];
  for (const resource of sortResources(Object.keys(hints))) {
    const list = hints[resource] || [];
    if (!list.length) {
      rows.push(h("tr", {}, h("td", { text: resource }), h("td", { colspan: 3, class: "muted", text: "[] (no possible affinity)" })));
    }
    for (const hint of list) {
      const chosen = merged && sameMask(hint.numa_affinity, merged.numa_affinity);
      rows.push(
        h(
          "tr",
          { class: chosen ? "chosen" : "", "data-numa": hint.numa_affinity ? hint.numa_affinity.join(",") : "" },
          h("td", { text: resource }),
          h("td", { class: "mask", text: maskBits(hint.numa_affinity, width) }),
          h("td", { text: maskIds(hint.numa_affinity) }),
          h("td", { text: hint.preferred ? "preferred" : "not preferred" }),
        ),
      );
    }
  }
  return rows;
}

function hintsBlock(hints, merged, width, policy) {
  if (hints === null || hints === undefined) {
    const why =
      policy === "none"
        ? "The topology manager policy is none, so no hints are asked for."
        : "The memory manager gave no hints (nil): the pod is not Guaranteed, a quantity could not be read, " +
          "or existing blocks decide the placement.";
    return h("p", { class: "muted small-text", text: why });
  }
  if (!Object.keys(hints).length) {
    return h("p", {
      class: "small-text",
      text:
        "No NUMA mask can hold this request, so the memory manager returned an empty hint map. " +
        "The topology manager reads that as 'no preference'; the allocation decides.",
    });
  }
  const table = (subset) =>
    h(
      "table",
      { class: "hints" },
      h("thead", {}, h("tr", {}, ["resource", "mask", "NUMA nodes", "preferred"].map((t) => h("th", { scope: "col", text: t })))),
      h("tbody", {}, hintRows(subset, merged, width)),
    );
  const total = Object.values(hints).reduce((n, list) => n + (list || []).length, 0);
  if (total <= 8) return table(hints);
  // Large machines give hundreds of masks: lead with the preferred ones and the merged one.
  const keep = (hint) => hint.preferred || (merged && sameMask(hint.numa_affinity, merged.numa_affinity));
  const short = Object.fromEntries(Object.entries(hints).map(([r, list]) => [r, (list || []).filter(keep)]));
  return h(
    "div",
    {},
    table(short),
    h("details", {}, h("summary", { class: "small-text", text: `All ${total} hints` }), table(hints)),
  );
}

function mergedLine(merged, admits, width) {
  if (!merged) return null;
  return h(
    "div",
    { class: "merged", "data-numa": merged.numa_affinity ? merged.numa_affinity.join(",") : "" },
    "Merged hint: ",
    h("code", {
      text: merged.numa_affinity
        ? `${maskBits(merged.numa_affinity, width)} ${maskIds(merged.numa_affinity)}`
        : "nil (no NUMA affinity)",
    }),
    merged.preferred ? ", preferred" : ", not preferred",
    admits === undefined || admits === null ? "" : admits ? " → the policy admits it" : " → the policy rejects it",
  );
}

function blocksList(blocks) {
  return h(
    "ul",
    { class: "pod-blocks" },
    (blocks || []).map((b) =>
      h("li", { text: `${b.type} ${formatBytes(b.size)} on NUMA ${maskIds(b.numa_affinity)}` }),
    ),
  );
}

function allocationBlock(allocation) {
  if (!allocation) return null;
  if (!allocation.ok) {
    return h("div", { class: "alloc bad" }, "Allocation failed: ", h("code", { text: allocation.error || "" }));
  }
  const blocks = allocation.blocks || [];
  if (!blocks.length) return h("div", { class: "alloc muted", text: "Allocation: nothing pinned (no exclusive memory)." });
  return h("div", { class: "alloc" }, "Allocated: ", blocksList(blocks));
}

function evaluationCard(evaluation, width, policy) {
  const title = evaluation.container ? `container ${evaluation.container}` : "the whole pod (pod scope)";
  return h(
    "div",
    { class: "evaluation", "data-container": evaluation.container ?? "" },
    h("h3", { text: title }),
    hintsBlock(evaluation.hints, evaluation.merged_hint, width, policy),
    mergedLine(evaluation.merged_hint, evaluation.merge_admits, width),
    allocationBlock(evaluation.allocation),
  );
}

function pipeline(explanation) {
  const stage = explanation.stage;
  const steps = [
    ["hints", "memory manager hints", null],
    ["merge", explanation.policy === "none" ? "no merge (policy none)" : `${explanation.policy} merge`, stage === "topology_manager"],
    ["allocate", "memory manager Allocate", stage === "memory_manager"],
    ["result", explanation.admitted ? "admitted" : "rejected", !explanation.admitted],
  ];
  let failed = false;
  return h(
    "ol",
    { class: "pipeline", "aria-label": "Admission steps" },
    steps.map(([key, label, failsHere]) => {
      const cls = failsHere ? "bad" : failed ? "" : "ok";
      if (failsHere) failed = true;
      return h("li", { class: cls, "data-step": key, text: label });
    }),
  );
}

function verdictBox(admitted, reason, message) {
  return h(
    "div",
    { class: `verdict ${admitted ? "ok" : "bad"}`, "data-verdict": admitted ? "admitted" : "rejected" },
    admitted ? h("strong", { text: "Admitted" }) : h("span", {}, "Rejected: ", h("span", { class: "reason", text: reason })),
    message ? h("div", { class: "message", text: message }) : null,
  );
}

function requestsLine(requests) {
  if (!requests || !Object.keys(requests).length) return null;
  const parts = Object.entries(requests).map(
    ([container, resources]) =>
      `${container}: ${Object.entries(resources)
        .map(([name, bytes]) => `${name} ${formatBytes(bytes)}`)
        .join(", ")}`,
  );
  return h("p", { class: "small-text muted" }, "Requests · ", parts.join(" · "));
}

/** Explanation record of an admit event. */
function explainAdmit(event, width) {
  const x = event.explanation;
  if (!x) return explainOutcome(event, width);
  return [
    verdictBox(x.admitted, x.reason, x.message),
    h("p", { class: "summary", "data-summary": "", text: x.summary || "" }),
    pipeline(x),
    h(
      "p",
      { class: "small-text muted" },
      [
        `Pod ${x.pod}`,
        `QoS ${x.qos_class}`,
        `policy ${x.policy}`,
        x.scope ? `scope ${x.scope}` : null,
        `memory manager ${x.memory_policy}`,
      ]
        .filter(Boolean)
        .join(" · "),
    ),
    requestsLine(x.requests),
    (x.evaluations || []).map((evaluation) => evaluationCard(evaluation, width, x.policy)),
  ];
}

/** Without an explanation record: the raw replay outcome. */
function explainOutcome(event, width) {
  const o = event.outcome || {};
  if ("panic" in o) {
    return [
      h(
        "div",
        { class: "verdict bad", "data-verdict": "panic" },
        h("strong", { text: "The real kubelet crashes here." }),
        h("div", { class: "message", text: String(o.panic) }),
      ),
      h("p", {
        class: "summary",
        text: "This is an upstream bug the playground reproduces instead of crashing: the kubelet code panics on this step.",
      }),
    ];
  }
  const parts = [verdictBox(o.admitted, o.reason, o.message)];
  if (o.container_hints) {
    for (const entry of o.container_hints) parts.push(evaluationCard(entry, width, null));
  } else if ("hints" in o) {
    parts.push(evaluationCard({ container: null, hints: o.hints, merged_hint: o.merged_hint, merge_admits: o.merge_admits }, width, null));
  }
  return parts;
}

/** Render the explainer for an event (or a hint when none is selected). */
export function renderExplainer(event, { width }) {
  if (!event) return [h("p", { class: "empty", text: "Submit a pod or pick an event in the timeline to see why it was placed where it is." })];
  const head = h("p", { class: "small-text muted", text: `Event at version ${event.version}: ${event.op}${event.pod_name ? ` of ${event.pod_name}` : ""}` });
  if (event.op === "admit") return [head, ...explainAdmit(event, width)];
  if (event.op === "remove") {
    return [head, h("p", { class: "summary", text: `Pod ${event.pod_name || event.pod_uid} was deleted; its blocks went back to the free memory of their NUMA nodes.` })];
  }
  if (event.op === "create") {
    return [head, h("p", { class: "summary", text: "The kubelet started on this machine with this configuration. Nothing is pinned yet." })];
  }
  if (event.op === "restart") return [head, ...explainRestart(event.outcome || {})];
  return [head, h("pre", { class: "small-text", text: JSON.stringify(event.outcome || {}, null, 2).slice(0, 4000) })];
}

/** A kubelet restart from its checkpoint: started, or the stage and the kubelet's error. */
function explainRestart(outcome) {
  if (outcome.started) {
    return [
      h("div", { class: "verdict ok", "data-verdict": "started" }, h("strong", { text: "Kubelet started" })),
      h("p", {
        class: "summary",
        text: "The kubelet restarted from its memory_manager_state checkpoint and the memory manager started; the restored state is shown.",
      }),
    ];
  }
  const error = outcome.container_manager_error || outcome.error || "";
  return [
    h(
      "div",
      { class: "verdict bad", "data-verdict": "refused" },
      h("span", {}, "The kubelet would not start: ", h("span", { class: "reason", text: outcome.stage || "" })),
      error ? h("div", { class: "message", text: error }) : null,
      outcome.panic ? h("div", { class: "message", text: "The real kubelet code panics here." }) : null,
    ),
  ];
}
