// The "Submit a pod" form: container rows (app, init, sidecar) with memory, hugepages and cpu,
// written as a Guaranteed pod by default.

import { $, $all, h } from "./dom.js";
import { buildPod } from "./podspec.js";

const KIND_LABELS = { container: "app container", init: "init container", sidecar: "sidecar (restartable init)" };
const FIELDS = [
  ["name", "name"],
  ["cpu", "cpu"],
  ["memory", "memory"],
  ["hugepages-2Mi", "hugepages-2Mi"],
  ["hugepages-1Gi", "hugepages-1Gi"],
];

let rowCounter = 0;

export function containerRow(kind, values = {}) {
  rowCounter += 1;
  const id = `c${rowCounter}`;
  const row = h("div", { class: "container-row", "data-kind": kind });
  const kindSelect = h(
    "select",
    { id: `${id}-kind`, "data-field": "kind", onchange: (e) => (row.dataset.kind = e.target.value) },
    Object.entries(KIND_LABELS).map(([value, label]) => h("option", { value, text: label, selected: value === kind })),
  );
  const fields = FIELDS.map(([field, label]) =>
    h(
      "div",
      { class: "field" },
      h("label", { for: `${id}-${field}`, text: label }),
      h("input", {
        id: `${id}-${field}`,
        "data-field": field,
        value: values[field] ?? "",
        placeholder: field === "name" ? "" : field === "cpu" ? "1" : field === "memory" ? "1Gi" : "0",
        autocomplete: "off",
      }),
      h("div", { class: "field-error", "data-error-for": field }),
    ),
  );
  row.append(
    h(
      "div",
      { class: "row-head" },
      h("label", { for: `${id}-kind`, class: "visually-hidden", text: "kind" }),
      kindSelect,
      h("button", {
        type: "button",
        class: "danger small",
        "aria-label": "Remove this container",
        text: "Remove",
        onclick: () => row.remove(),
      }),
    ),
    h("div", { class: "fields" }, fields),
  );
  return row;
}

export function readRows(root) {
  return $all(".container-row", root).map((row) => {
    const values = { kind: $("[data-field='kind']", row).value };
    for (const [field] of FIELDS) values[field] = $(`[data-field='${field}']`, row).value;
    return values;
  });
}

export function podFromForm(form) {
  return buildPod({
    name: $("#pod-name", form).value,
    rows: readRows(form),
    guaranteed: $("#pod-guaranteed", form).checked,
  });
}

/** "pod-N" with the smallest N no current pod uses (names must be unique, as in the API server). */
export function freshPodName(pods) {
  const taken = new Set((pods || []).map((pod) => pod.name));
  let n = (pods || []).length + 1;
  while (taken.has(`pod-${n}`)) n += 1;
  return `pod-${n}`;
}

export function resetPodForm(form, pods) {
  $("#pod-name", form).value = freshPodName(pods);
  const rows = $("#container-rows", form);
  rows.replaceChildren(containerRow("container", { name: "app", cpu: "1", memory: "1Gi" }));
}

export function wirePodForm(form, onSubmit) {
  for (const button of $all("[data-add]", form)) {
    button.addEventListener("click", () => {
      const kind = button.dataset.add;
      const count = $all(`.container-row[data-kind='${kind}']`, form).length;
      const name = kind === "container" ? `app${count + 1}` : kind === "init" ? `init${count + 1}` : `sidecar${count + 1}`;
      const row = containerRow(kind, { name, cpu: "1", memory: "1Gi" });
      $("#container-rows", form).append(row);
      $("[data-field='memory']", row).focus();
    });
  }
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    onSubmit(podFromForm(form));
  });
}

/** A YAML starter for the YAML tab, matching what the form would submit. */
export function yamlExample(name) {
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    `  name: ${name}`,
    "spec:",
    "  containers:",
    "  - name: app",
    "    image: registry.k8s.io/pause:3.10",
    "    resources:",
    "      requests: {cpu: \"1\", memory: 2Gi}",
    "      limits: {cpu: \"1\", memory: 2Gi}",
    "",
  ].join("\n");
}

const CONTAINER_PATH = /^pods?(?:\[\d+\])?\.spec\.(containers|initContainers)\[(\d+)\](?:\.(.*))?$/;

/** Clear the errors shown next to the pod form's fields. */
export function clearPodErrors(form) {
  for (const box of $all(".field-error", form)) box.textContent = "";
  for (const input of $all("[aria-invalid]", form)) input.removeAttribute("aria-invalid");
}

/**
 * Show each API error next to the field it names (pod name, or a container row's field, matching
 * the order buildPod() writes containers in); returns the errors that name no field of the form.
 */
export function placePodErrors(form, errors) {
  const rows = $all(".container-row", form);
  const kindOf = (row) => $("[data-field='kind']", row).value;
  const byList = {
    containers: rows.filter((row) => kindOf(row) === "container"),
    initContainers: rows.filter((row) => kindOf(row) !== "container"),
  };
  const unplaced = [];
  for (const error of errors) {
    const path = error.path || "";
    let input = null;
    let box = null;
    const match = CONTAINER_PATH.exec(path);
    if (match) {
      const row = byList[match[1]][Number(match[2])];
      const field = FIELDS.map(([name]) => name).find((name) => (match[3] || "").split(".").includes(name));
      if (row) {
        input = $(`[data-field='${field || "name"}']`, row);
        box = $(`[data-error-for='${field || "name"}']`, row);
      }
    } else if (/metadata\.name$/.test(path)) {
      input = $("#pod-name", form);
      box = $("#pod-name-error", form);
    }
    if (input && box) {
      input.setAttribute("aria-invalid", "true");
      box.textContent = box.textContent ? `${box.textContent} ${error.message}` : error.message;
    } else unplaced.push(error);
  }
  return unplaced;
}
