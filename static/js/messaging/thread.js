// Secure messaging: live updates of one thread over ws/messages/<id>/ with resume, and quick
// replies inserted into the compose box. The page works without this script (it is then
// simply not live). Messages are rendered with textContent only.

const list = document.querySelector("[data-message-list]");
const statusLine = document.querySelector("[data-live-status]");

function readJson(id, fallback) {
  const node = document.getElementById(id);
  if (!node) return fallback;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return fallback;
  }
}

// --- Quick replies ------------------------------------------------------------------------

function wireQuickReplies() {
  const form = document.querySelector("form[data-quick-reply]");
  const box = document.querySelector("textarea[data-compose-body]");
  if (!form || !box) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const option = form.querySelector("select option:checked");
    if (!option) return;
    const text = option.dataset.body || "";
    const start = box.selectionStart ?? box.value.length;
    const end = box.selectionEnd ?? box.value.length;
    box.value = box.value.slice(0, start) + text + box.value.slice(end);
    box.focus();
    box.selectionStart = box.selectionEnd = start + text.length;
  });
}

// --- Rendering ----------------------------------------------------------------------------

const names = readJson("participant-names", {});
const receipts = readJson("participant-receipts", {});

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function bodyWithBreaks(text) {
  const fragment = document.createDocumentFragment();
  text.split("\n").forEach((line, index) => {
    if (index > 0) fragment.append(document.createElement("br"));
    fragment.append(document.createTextNode(line));
  });
  return fragment;
}

// Times in the viewer's own zone (their profile's, like the server-rendered ones).
function formatTime(iso) {
  const options = {
    year: "numeric",
    month: "short",
    day: "numeric",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
  };
  const zone = list?.dataset.tz;
  try {
    return new Date(iso).toLocaleString("en-US", zone ? { ...options, timeZone: zone } : options);
  } catch {
    return new Date(iso).toLocaleString("en-US", options);
  }
}

function renderMessage(message, me, threadId) {
  const item = el("li", "message");
  if (message.author_id === me) item.classList.add("mine");
  if (message.entered_in_error) item.classList.add("in-error");
  item.id = `m${message.seq}`;
  item.dataset.seq = String(message.seq);

  const meta = el("p", "meta");
  meta.append(el("strong", "", message.author_name), document.createTextNode(" · "));
  const time = el("time", "", formatTime(message.created_at));
  time.dateTime = message.created_at;
  meta.append(time);
  item.append(meta);

  const body = el("div", "message-body");
  if (message.entered_in_error) {
    const struck = document.createElement("del");
    struck.append(bodyWithBreaks(message.body));
    body.append(struck);
    item.append(body, el("p", "error-note", `Entered in error: ${message.entered_in_error_reason}`));
  } else {
    body.append(bodyWithBreaks(message.body));
    item.append(body);
  }
  if (message.attachments.length) {
    const files = el("ul", "attachments");
    for (const attachment of message.attachments) {
      const link = el("a", "", attachment.name || "attachment");
      link.href = attachment.url;
      const entry = el("li");
      entry.append(link);
      files.append(entry);
    }
    item.append(files);
  }
  if (message.author_id === me && !message.entered_in_error) {
    const actions = el("p", "message-actions");
    const link = el("a", "", "Mark entered in error");
    link.href = `/messages/${threadId}/messages/${message.id}/entered-in-error/`;
    actions.append(link);
    item.append(actions);
  }
  const readBy = el("p", "read-by");
  readBy.dataset.readBy = "";
  item.append(readBy);
  return item;
}

function showReceipts(me) {
  const bySeq = new Map();
  for (const [userId, seq] of Object.entries(receipts)) {
    if (Number(userId) === me || !seq) continue;
    const who = names[userId] || "someone";
    bySeq.set(Number(seq), [...(bySeq.get(Number(seq)) || []), who]);
  }
  for (const item of list.querySelectorAll("li.message")) {
    const readers = bySeq.get(Number(item.dataset.seq));
    const line = item.querySelector("[data-read-by]");
    if (line) line.textContent = readers ? `Read by ${readers.join(", ")}` : "";
  }
}

// --- Live socket with resume ----------------------------------------------------------------

function liveThread() {
  if (!list) return;
  const threadId = list.dataset.threadId;
  const me = Number(list.dataset.me);
  let lastSeq = Number(list.dataset.lastSeq || 0);
  let attempt = 0;
  let socket = null;
  let pinger = null;

  const setStatus = (text) => {
    if (statusLine) statusLine.textContent = text;
  };

  const sendRead = () => {
    if (socket && socket.readyState === WebSocket.OPEN && document.visibilityState === "visible") {
      socket.send(JSON.stringify({ type: "read", seq: lastSeq }));
    }
  };

  const nearBottom = () =>
    window.innerHeight + window.scrollY >= document.body.scrollHeight - 200;

  const place = (message) => {
    const fresh = renderMessage(message, me, threadId);
    const existing = document.getElementById(`m${message.seq}`);
    if (existing) {
      existing.replaceWith(fresh);
    } else {
      list.querySelector("[data-empty]")?.remove();
      list.append(fresh);
    }
  };

  const onFrame = (event) => {
    let data;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    if (data.type === "message") {
      const message = data.message;
      if (message.seq <= lastSeq && document.getElementById(`m${message.seq}`)) return;
      const follow = nearBottom();
      place(message);
      lastSeq = Math.max(lastSeq, message.seq);
      if (message.author_id === me) receipts[me] = lastSeq;
      showReceipts(me);
      if (follow) document.getElementById(`m${message.seq}`)?.scrollIntoView({ block: "end" });
      if (message.author_id !== me) sendRead();
    } else if (data.type === "correction") {
      if (document.getElementById(`m${data.message.seq}`)) place(data.message);
      showReceipts(me);
    } else if (data.type === "read") {
      receipts[data.user_id] = data.seq;
      showReceipts(me);
    } else if (data.type === "hello") {
      Object.assign(receipts, data.receipts || {});
      showReceipts(me);
      setStatus("Live: new messages appear here.");
    } else if (data.type === "resumed") {
      setStatus("Live: new messages appear here.");
    }
  };

  const connect = () => {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(
      `${scheme}://${window.location.host}/ws/messages/${threadId}/?after=${lastSeq}`,
    );
    socket.addEventListener("open", () => {
      attempt = 0;
      sendRead();
      pinger = window.setInterval(() => {
        if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "ping" }));
      }, 25000);
    });
    socket.addEventListener("message", onFrame);
    socket.addEventListener("close", (event) => {
      window.clearInterval(pinger);
      if (event.code === 4401 || event.code === 4403) {
        setStatus("Live updates are off here. Reload the page to see new messages.");
        return;
      }
      // Exponential backoff with jitter, capped at 30 s; the next socket resumes from lastSeq.
      const delay = Math.min(30000, 500 * 2 ** attempt) * (0.5 + Math.random() / 2);
      attempt += 1;
      setStatus("Reconnecting…");
      window.setTimeout(connect, delay);
    });
  };

  document.addEventListener("visibilitychange", sendRead);
  showReceipts(me);
  connect();
}

wireQuickReplies();
liveThread();
