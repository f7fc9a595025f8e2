// The visit room: join, the WebRTC mesh, mute/camera/audio-only, chat, and the clinician's
// lobby, vitals and SOAP note panels. window.carepathVisit exposes state and stats for tests.

import { api, csrfToken, enableWiredButtons, rootData } from "./api.js";
import { captureMedia, stopStream } from "./media.js";
import { Mesh } from "./mesh.js";
import { SignalClient } from "./signal.js";
import { wireInvite } from "./invite.js";

const data = rootData();
const $ = (id) => document.getElementById(id);

function randomSession() {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

const state = {
  visitId: data.visitId,
  selfId: data.participantId,
  role: data.role,
  mode: data.mode,
  session: randomSession(),
  wantJoined: false,
  joined: false,
  connected: false,
  ended: false,
  joinClickedAt: null,
  firstFrameAt: null,
  lastChatId: 0,
  lastClose: null,
  joins: 0,
  errors: [],
};
let localStream = new MediaStream();
let mesh = null;

const status = (text) => {
  $("call-status").textContent = text;
};

// --- Signaling -------------------------------------------------------------------------

const signal = new SignalClient(state.visitId, {
  onOpen: () => {
    if (state.wantJoined) signal.send({ type: "join", session: state.session });
  },
  onClose: (code, final) => {
    state.lastClose = code;
    state.joined = false;
    if (!final) {
      if (state.wantJoined) status("Connection lost. Reconnecting…");
      return;
    }
    const reasons = {
      4403: "You may not take part in this visit.",
      4409: "This visit is open in another window.",
      4410: "The visit has ended.",
      4429: "Too many messages were sent; reload the page to continue.",
    };
    if (code === 4410) finish("The visit has ended.");
    else if (reasons[code]) status(reasons[code]);
  },
  onMessage: (message) => {
    handlers[message.type]?.(message);
  },
});

const handlers = {
  hello: (m) => {
    state.selfId = m.participant.id;
  },
  waiting: () => status("Waiting for the clinician to let you in…"),
  joined: (m) => {
    state.joined = true;
    state.joins += 1;
    mesh.joined(m.self.id, m.peers);
    if (m.mode !== state.mode) applyMode(m.mode, { announce: false });
    enableControls(true);
    status(m.peers.length ? "Connecting…" : "You are in the visit. Waiting for the others to join…");
    loadChat();
    if (state.role === "clinician") loadNote();
    if (state.role === "clinician" || state.role === "telefacilitator") loadVitals();
  },
  "peer-joined": (m) => {
    mesh.peerJoined(m.peer);
    status(`${m.peer.name} joined.`);
  },
  "peer-left": (m) => {
    mesh.peerLeft(m.peer);
    const tile = document.querySelector(`.tile[data-peer="${m.peer}"] .peer-state`);
    if (tile) tile.textContent = "reconnecting…";
  },
  offer: (m) => mesh.handle(m),
  answer: (m) => mesh.handle(m),
  ice: (m) => mesh.handle(m),
  chat: (m) => appendChat(m),
  mode: (m) => {
    if (m.by !== state.selfId) applyMode(m.mode, { announce: false });
  },
  vitals: (m) => appendVitals(m),
  lobby: (m) => renderLobby(m.participants),
  ended: () => finish("The visit has ended."),
  removed: () => finish("You were removed from the visit."),
  replaced: () => status("This visit is open in another window."),
  error: (m) => {
    state.errors.push(m.code);
    if (m.code === "not_started" || m.code === "invalid_text") showChatError(m.message);
  },
};

// --- Joining and media -----------------------------------------------------------------

async function join() {
  const button = $("join-button");
  button.disabled = true;
  state.joinClickedAt = performance.now();
  state.firstFrameAt = null;
  status("Starting your camera and microphone…");
  try {
    const [stream, ice] = await Promise.all([
      captureMedia({ video: state.mode === "video", audio: state.mode !== "chat" }),
      api(`/${state.visitId}/ice-servers`),
    ]);
    if (new URLSearchParams(window.location.search).get("relay") === "1") ice.iceTransportPolicy = "relay";
    localStream = stream;
    $("local-video").srcObject = stream;
    mesh = new Mesh({
      signal,
      iceConfig: ice,
      localStream,
      selfId: state.selfId,
      onRemoteStream: showRemote,
      onPeerState: peerState,
      onPeerGone: (peer) => document.querySelector(`.tile[data-peer="${peer.id}"]`)?.remove(),
    });
    window.carepathVisit.mesh = mesh;
    state.wantJoined = true;
    status("Joining…");
    if (!signal.send({ type: "join", session: state.session }) && !signal.socket) signal.connect();
    button.hidden = true;
  } catch (error) {
    button.disabled = false;
    status(`Could not join: ${error.message}`);
  }
}

function tileFor(peer) {
  let tile = document.querySelector(`.tile[data-peer="${peer.id}"]`);
  if (tile) return tile;
  tile = document.createElement("figure");
  tile.className = "tile remote";
  tile.dataset.peer = String(peer.id);
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.muted = true; // sound plays through the <audio> element below
  video.setAttribute("aria-label", `${peer.name}'s video`);
  const audio = document.createElement("audio");
  audio.autoplay = true;
  const caption = document.createElement("figcaption");
  caption.textContent = peer.name;
  const badge = document.createElement("span");
  badge.className = "peer-state";
  badge.textContent = "connecting…";
  tile.append(video, audio, caption, badge);
  if (state.mode !== "video") tile.classList.add("audio-only");
  $("videos").append(tile);
  return tile;
}

function showRemote(peer) {
  const tile = tileFor(peer);
  const video = tile.querySelector("video");
  const audio = tile.querySelector("audio");
  if (video.srcObject !== peer.stream) {
    video.srcObject = peer.stream;
    audio.srcObject = peer.stream;
    const firstFrame = () => {
      if (state.firstFrameAt === null) state.firstFrameAt = performance.now();
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(firstFrame);
    else video.addEventListener("loadeddata", firstFrame, { once: true });
    audio.play().catch(() => {
      $("sound-button").hidden = false;
    });
  }
}

function peerState(peer, connectionState) {
  const badge = document.querySelector(`.tile[data-peer="${peer.id}"] .peer-state`);
  if (badge) badge.textContent = connectionState === "connected" ? "" : connectionState;
  if (connectionState === "connected") {
    state.connected = true;
    status(`Connected with ${peer.name}.`);
  }
}

function enableControls(on) {
  for (const id of ["mute-button", "camera-button", "mode-button", "leave-button"]) $(id).disabled = !on;
  if (on && state.mode !== "video") $("camera-button").disabled = true;
}

async function applyMode(mode, { announce }) {
  state.mode = mode;
  $("videos").dataset.mode = mode;
  for (const tile of document.querySelectorAll(".tile")) tile.classList.toggle("audio-only", mode !== "video");
  const banner = $("mode-banner");
  banner.hidden = mode === "video";
  banner.textContent = mode === "audio" ? "Audio-only visit: cameras are off." : mode === "chat" ? "Chat-only visit: cameras and microphones are off." : "";
  $("mode-button").textContent = mode === "video" ? "Switch to audio only" : "Switch to video";
  $("camera-button").disabled = mode !== "video" || !state.joined;
  if (announce) signal.send({ type: "mode", mode });
  if (mode === "video") {
    if (!localStream.getVideoTracks().some((track) => track.readyState === "live")) {
      const camera = await captureMedia({ video: true, audio: false });
      const track = camera.getVideoTracks()[0];
      if (track) {
        localStream.addTrack(track);
        if (mesh) await mesh.setVideoTrack(track);
      }
    }
    $("local-video").srcObject = localStream;
  } else {
    for (const track of localStream.getVideoTracks()) {
      track.stop();
      localStream.removeTrack(track);
    }
    if (mesh) await mesh.setVideoTrack(null);
  }
  const audio = localStream.getAudioTracks()[0] || null;
  if (mesh) await mesh.setAudioTrack(mode === "chat" ? null : audio);
}

function finish(message) {
  if (state.ended) return;
  state.ended = true;
  state.wantJoined = false;
  signal.close();
  if (mesh) mesh.closeAll();
  stopStream(localStream);
  enableControls(false);
  $("join-button").hidden = true;
  status(message);
}

// --- Chat ------------------------------------------------------------------------------

function appendChat(message) {
  if (message.id <= state.lastChatId) return;
  state.lastChatId = message.id;
  const item = document.createElement("li");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = message.from === state.selfId ? "You" : message.name;
  const text = document.createElement("span");
  text.textContent = message.text;
  item.append(who, text);
  $("chat-log").append(item);
  item.scrollIntoView({ block: "nearest" });
}

async function loadChat() {
  try {
    const messages = await api(`/${state.visitId}/chat?after=${state.lastChatId}`);
    for (const message of messages) appendChat(message);
  } catch {
    /* not admitted yet */
  }
}

function showChatError(text) {
  const input = $("chat-input");
  input.setCustomValidity(text);
  input.reportValidity();
  setTimeout(() => input.setCustomValidity(""), 3000);
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-input");
  const text = input.value.trim();
  if (!text) return;
  if (state.joined && signal.send({ type: "chat", text })) {
    input.value = "";
    return;
  }
  api(`/${state.visitId}/chat`, { method: "POST", body: { text } })
    .then((message) => {
      input.value = "";
      appendChat(message);
    })
    .catch((error) => showChatError(error.message));
});

// --- Lobby (clinician) -----------------------------------------------------------------

function renderLobby(participants) {
  const list = $("lobby");
  if (!list) return;
  list.replaceChildren();
  const others = participants.filter((p) => p.role !== "clinician" || p.id !== state.selfId);
  if (!others.length) {
    const empty = document.createElement("li");
    empty.className = "help";
    empty.textContent = "Nobody is waiting.";
    list.append(empty);
  }
  for (const p of others) {
    const item = document.createElement("li");
    item.dataset.participant = String(p.id);
    item.dataset.state = p.state;
    const name = document.createElement("span");
    name.className = "name";
    const where = p.state === "admitted" ? (p.present ? "in the visit" : "admitted") : p.checked_in ? "waiting" : "not checked in";
    name.textContent = `${p.name} (${p.role}) — ${where}`;
    item.append(name);
    if (p.state === "waiting") {
      const admit = document.createElement("button");
      admit.type = "button";
      admit.textContent = `Admit ${p.name}`;
      admit.addEventListener("click", () => lobbyAction(p.id, "admit", admit));
      item.append(admit);
    }
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "secondary";
    remove.textContent = "Remove";
    remove.setAttribute("aria-label", `Remove ${p.name}`);
    remove.addEventListener("click", () => lobbyAction(p.id, "remove", remove));
    item.append(remove);
    list.append(item);
  }
}

async function lobbyAction(participantId, action, button) {
  button.disabled = true;
  try {
    await api(`/${state.visitId}/participants/${participantId}/${action}`, { method: "POST" });
    if (action === "admit" && state.joined) loadNote();
  } catch (error) {
    status(error.message);
    button.disabled = false;
  }
}

// --- Vitals ----------------------------------------------------------------------------

function appendVitals(message) {
  const body = $("vitals-log");
  if (!body) return;
  const time = new Date(message.recorded_at).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  for (const value of message.values) {
    const row = document.createElement("tr");
    row.dataset.code = value.code;
    for (const text of [value.display, `${value.value} ${value.unit}`, time]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      row.append(cell);
    }
    body.append(row);
  }
}

async function loadVitals() {
  if (!$("vitals-log")) return;
  try {
    const observations = await api(`/${state.visitId}/vitals`);
    $("vitals-log").replaceChildren();
    for (const obs of observations) {
      appendVitals({ recorded_at: obs.recorded_at, values: [{ code: obs.code, display: obs.display, value: obs.value, unit: obs.unit }] });
    }
  } catch {
    /* not started yet */
  }
}

$("vitals-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const error = $("vitals-error");
  error.hidden = true;
  const values = {};
  for (const input of form.querySelectorAll("input[type=number]")) {
    if (input.value === "") continue;
    if (!input.checkValidity()) {
      error.textContent = `${input.labels[0].textContent}: enter a value between ${input.min} and ${input.max}.`;
      error.hidden = false;
      input.focus();
      return;
    }
    values[input.name] = Number(input.value);
  }
  if (!Object.keys(values).length) {
    error.textContent = "Enter at least one measurement.";
    error.hidden = false;
    return;
  }
  try {
    await api(`/${state.visitId}/vitals`, { method: "POST", body: { values } });
    form.reset();
  } catch (failure) {
    error.textContent = failure.message;
    error.hidden = false;
  }
});

// --- SOAP note (clinician) -------------------------------------------------------------

const noteFields = ["subjective", "objective", "assessment", "plan"];
let autosaveTimer = null;
if ($("note-form")?.dataset.signed === "1") state.noteSigned = true;

async function loadNote() {
  if (!$("note-form")) return;
  try {
    const note = await api(`/${state.visitId}/note`);
    for (const name of noteFields) {
      const field = $(`note-${name}`);
      if (!field.value) field.value = note[name];
    }
    noteStatus(note);
  } catch {
    /* the visit starts at the first admission */
  }
}

// Times in the viewer's own zone (their profile's, as the server renders them), not the
// browser's.
function viewerTime(iso) {
  const when = new Date(iso);
  const options = { hour: "numeric", minute: "2-digit", timeZoneName: "short" };
  try {
    return when.toLocaleTimeString("en-US", { ...options, timeZone: data.timeZone || "UTC" });
  } catch {
    return when.toLocaleTimeString("en-US", { ...options, timeZone: "UTC" });
  }
}

function showSigned(note) {
  // A signed note never changes: read-only, no draft or sign buttons; amendments are added.
  state.noteSigned = true;
  clearTimeout(autosaveTimer);
  for (const name of noteFields) $(`note-${name}`).readOnly = true;
  $("note-actions").hidden = true;
  $("note-save").disabled = true;
  $("note-sign").disabled = true;
  const status = $("note-status");
  const time = document.createElement("time");
  time.dateTime = note.signed_at;
  time.textContent = viewerTime(note.signed_at);
  status.replaceChildren("Signed at ", time, ". A signed note does not change: add an amendment below.");
  const amend = $("note-amend-form");
  if (amend) {
    amend.dataset.noteId = String(note.id);
    amend.hidden = false;
  }
}

function noteStatus(note) {
  if (note.status === "signed") {
    showSigned(note);
    return;
  }
  $("note-status").textContent = note.id ? "Draft saved." : "";
}

async function saveNote() {
  if (state.noteSigned) return null;
  const body = {};
  for (const name of noteFields) body[name] = $(`note-${name}`).value;
  const note = await api(`/${state.visitId}/note`, { method: "PUT", body });
  noteStatus(note);
  return note;
}

$("note-form")?.addEventListener("submit", (event) => {
  event.preventDefault();
  saveNote().catch((error) => {
    $("note-status").textContent = error.message;
  });
});

// Draft autosave: a pause in typing saves the draft (nothing typed is lost if the call drops).
const AUTOSAVE_MS = 1500;
$("note-form")?.addEventListener("input", () => {
  clearTimeout(autosaveTimer);
  if (state.noteSigned) return;
  $("note-status").textContent = "Unsaved changes…";
  autosaveTimer = setTimeout(() => {
    saveNote().catch((error) => {
      $("note-status").textContent = error.code === "not_started" ? "The draft is saved once the visit starts." : error.message;
    });
  }, AUTOSAVE_MS);
});

$("note-sign")?.addEventListener("click", async () => {
  clearTimeout(autosaveTimer);
  try {
    await saveNote();
    noteStatus(await api(`/${state.visitId}/note/sign`, { method: "POST" }));
  } catch (error) {
    $("note-status").textContent = error.message;
  }
});

// Amendments to the signed note (the care API: a signed note is never edited).
$("note-amend-form")?.addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.currentTarget;
  const input = $("note-amendment");
  const text = input.value.trim();
  const say = (message) => {
    $("note-amend-status").textContent = message;
  };
  if (!text) {
    say("Write the amendment first.");
    input.focus();
    return;
  }
  try {
    const response = await fetch(`/api/v1/care/notes/${form.dataset.noteId}/amendments`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
      body: JSON.stringify({ text }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body?.error?.message || `Request failed (${response.status})`);
    const item = document.createElement("li");
    item.textContent = `${body.text} `;
    const meta = document.createElement("span");
    meta.className = "help";
    meta.textContent = `(${body.author}, ${viewerTime(body.created_at)})`;
    item.append(meta);
    $("note-amendments").append(item);
    input.value = "";
    say("Amendment added.");
  } catch (error) {
    say(error.message);
  }
});

// --- Controls --------------------------------------------------------------------------

$("join-button").addEventListener("click", join);

$("mute-button").addEventListener("click", (event) => {
  const track = localStream.getAudioTracks()[0];
  if (!track) return;
  track.enabled = !track.enabled;
  event.currentTarget.setAttribute("aria-pressed", String(!track.enabled));
  event.currentTarget.textContent = track.enabled ? "Mute" : "Unmute";
});

$("camera-button").addEventListener("click", (event) => {
  const track = localStream.getVideoTracks()[0];
  if (!track) return;
  track.enabled = !track.enabled;
  event.currentTarget.setAttribute("aria-pressed", String(!track.enabled));
  event.currentTarget.textContent = track.enabled ? "Turn camera off" : "Turn camera on";
});

$("mode-button").addEventListener("click", () => {
  applyMode(state.mode === "video" ? "audio" : "video", { announce: true });
});

$("sound-button").addEventListener("click", (event) => {
  for (const audio of document.querySelectorAll(".tile audio")) audio.play().catch(() => {});
  event.currentTarget.hidden = true;
});

$("leave-button").addEventListener("click", () => {
  signal.send({ type: "leave" });
  state.wantJoined = false;
  state.joined = false;
  if (mesh) mesh.closeAll();
  stopStream(localStream);
  localStream = new MediaStream();
  enableControls(false);
  const button = $("join-button");
  button.hidden = false;
  button.disabled = false;
  button.textContent = "Rejoin visit";
  status("You left the visit. You can rejoin while it lasts.");
});

$("end-button")?.addEventListener("click", async () => {
  try {
    await api(`/${state.visitId}/end`, { method: "POST" });
    finish("You ended the visit.");
  } catch (error) {
    status(error.message);
  }
});

if ($("invite-form")) wireInvite(state.visitId);

window.carepathVisit = {
  state,
  signal,
  mesh: null,
  stats: () => (mesh ? mesh.stats() : Promise.resolve({})),
  dropSocket: () => signal.drop(),
};

enableWiredButtons();
if (state.role === "clinician") loadNote();
signal.connect();
if (sessionStorage.getItem(`carepath-autojoin-${state.visitId}`) === "1") {
  sessionStorage.removeItem(`carepath-autojoin-${state.visitId}`);
  join();
}
