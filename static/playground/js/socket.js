// The scenario's live channel (docs/CONTRACTS.md section 4): reconnects with backoff and asks
// the server to resynchronise from the version this page holds, so no event is ever missed. A `batch`
// frame (docs/CONTRACTS.md section 4) is taken apart here: the page sees only snapshots and events.

export function connectScenario(scenarioId, { heldVersion, onSnapshot, onEvent, onStatus }) {
  let socket = null;
  let retryDelay = 500;
  let closedByUs = false;
  let timer = null;

  const url = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const version = heldVersion();
    const query = version == null ? "" : `?version=${version}`;
    return `${scheme}://${location.host}/ws/scenarios/${encodeURIComponent(scenarioId)}/${query}`;
  };

  const open = () => {
    onStatus("connecting");
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      retryDelay = 500;
      onStatus("open");
    });
    socket.addEventListener("message", (message) => {
      let data;
      try {
        data = JSON.parse(message.data);
      } catch {
        return;
      }
      if (data.type === "batch") {
        // Several events sent as one frame under load: each applied in order, as if it came alone;
        // the page renders once, after the last.
        const messages = Array.isArray(data.messages) ? data.messages : [];
        messages.forEach((one, index) => handle(one, index < messages.length - 1));
      } else handle(data, false);
    });
    socket.addEventListener("close", () => {
      onStatus("closed");
      if (closedByUs) return;
      timer = setTimeout(open, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
    socket.addEventListener("error", () => socket.close());
  };

  // One server message; `more`: another of the same batch follows at once (onEvent may defer rendering).
  const handle = (data, more) => {
    if (!data || typeof data !== "object") return;
    if (data.type === "snapshot") onSnapshot(data);
    else if (data.type === "event") {
      const held = heldVersion();
      // A gap means we missed something while busy: ask for a fresh snapshot.
      if (held != null && data.version > held + 1) resync();
      onEvent(data, { more });
    }
  };

  const resync = () => {
    if (socket && socket.readyState === WebSocket.OPEN) {
      socket.send(JSON.stringify({ type: "resync", version: heldVersion() }));
    }
  };

  open();
  return {
    resync,
    close() {
      closedByUs = true;
      clearTimeout(timer);
      if (socket) socket.close();
    },
  };
}
