// One colour per pod, stable across versions and browsers (derived from the pod's name), always
// paired with the pod's name as text in the picture and the lists.

const PALETTE = [
  { fill: "#4e79a7", stroke: "#2f4f74", text: "#ffffff" },
  { fill: "#f28e2b", stroke: "#a85d12", text: "#1b1b1b" },
  { fill: "#59a14f", stroke: "#376b30", text: "#ffffff" },
  { fill: "#b07aa1", stroke: "#774f6b", text: "#ffffff" },
  { fill: "#edc948", stroke: "#a68a1c", text: "#1b1b1b" },
  { fill: "#76b7b2", stroke: "#427a76", text: "#1b1b1b" },
  { fill: "#e15759", stroke: "#9c2e30", text: "#ffffff" },
  { fill: "#ff9da7", stroke: "#b8606a", text: "#1b1b1b" },
  { fill: "#9c755f", stroke: "#634838", text: "#ffffff" },
  { fill: "#8cd17d", stroke: "#4f8a42", text: "#1b1b1b" },
  { fill: "#499894", stroke: "#2a5f5c", text: "#ffffff" },
  { fill: "#d37295", stroke: "#8f415e", text: "#ffffff" },
];

function hash(text) {
  let h = 2166136261;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return h >>> 0;
}

export function podColour(name) {
  return PALETTE[hash(String(name)) % PALETTE.length];
}
