// Live queue: a queue event (ids, kind, status, due time only) arrives on ws/queue/ and the
// list is fetched again from the server, so what is shown is always what the server allows.

const LIST = "[data-queue-list]";
let pending = null;

async function reloadList() {
  pending = null;
  const response = await fetch(window.location.href, {
    credentials: "same-origin",
    headers: { "X-Requested-With": "fetch" },
  });
  if (!response.ok) return;
  const page = new DOMParser().parseFromString(await response.text(), "text/html");
  const fresh = page.querySelector(LIST);
  const current = document.querySelector(LIST);
  if (!fresh || !current) return;
  current.replaceChildren(...fresh.childNodes);
  const note = current.querySelector("[data-queue-updated]");
  if (note) note.hidden = false;
}

function scheduleReload() {
  if (pending === null) pending = window.setTimeout(reloadList, 300);
}

function connect(attempt = 0) {
  if (!document.querySelector(LIST)) return;
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/queue/`);
  socket.addEventListener("open", () => { attempt = 0; });
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "queue.event") scheduleReload();
  });
  socket.addEventListener("close", (event) => {
    if (event.code === 4403 || event.code === 4401) return; // not allowed: do not retry
    const delay = Math.min(30000, 1000 * 2 ** attempt);
    window.setTimeout(() => { scheduleReload(); connect(attempt + 1); }, delay);
  });
}

connect();
