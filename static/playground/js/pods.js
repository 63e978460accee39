// The pods list: status (Running, or Failed with the kubelet's reason and message), blocks, delete.

import { h } from "./dom.js";
import { formatBytes, maskIds } from "./format.js";
import { podColour } from "./render/colours.js";

function blockLines(containers) {
  const lines = [];
  for (const [container, blocks] of Object.entries(containers || {})) {
    for (const block of blocks || []) {
      lines.push(
        h("li", {
          "data-container": container,
          text: `${container}: ${block.type} ${formatBytes(block.size)} on NUMA ${maskIds(block.numa_affinity)}`,
        }),
      );
    }
  }
  return lines;
}

/** pods: scenario view pods; opts: {selectedPod, canEdit, onSelect(pod), onDelete(pod)} */
export function renderPods(pods, opts) {
  if (!pods.length) return [h("li", { class: "empty", text: "No pods yet. Submit one to see where its memory goes." })];
  return pods.map((pod) => {
    const failed = pod.status === "Failed";
    const colour = podColour(pod.name);
    const lines = blockLines(pod.containers);
    return h(
      "li",
      {
        class: `pod${opts.selectedPod === pod.name ? " selected" : ""}`,
        "data-pod-name": pod.name,
        "data-status": pod.status,
        style: `--pod-colour: ${colour.fill}`,
      },
      h(
        "div",
        { class: "pod-head" },
        h("button", {
          type: "button",
          class: "pod-name",
          text: pod.name,
          title: "Explain this pod's admission",
          onclick: () => opts.onSelect(pod),
        }),
        h("span", { class: `badge ${failed ? "bad" : "ok"}`, "data-status-badge": "", text: pod.status }),
        pod.namespace && pod.namespace !== "default" ? h("span", { class: "badge", text: pod.namespace }) : null,
        h("span", { class: "spacer" }),
        opts.canEdit
          ? h("button", {
              type: "button",
              class: "danger small edit-only",
              "data-delete": pod.name,
              "aria-label": `Delete pod ${pod.name}`,
              text: "Delete",
              onclick: () => opts.onDelete(pod),
            })
          : null,
      ),
      failed
        ? h(
            "div",
            { class: "pod-reason" },
            h("strong", { "data-reason": "", text: pod.reason }),
            h("div", { class: "small-text", "data-message": "", text: pod.message }),
          )
        : null,
      lines.length
        ? h("ul", { class: "pod-blocks" }, lines)
        : h("div", { class: "small-text muted", text: failed ? "Holds no memory." : "No exclusive memory (not pinned)." }),
    );
  });
}
