// The waiting room: device check (camera preview + microphone level), check-in, the expected
// wait, and a socket that opens the visit as soon as the clinician admits this participant.

import { api, enableWiredButtons, rootData } from "./api.js";
import { captureMedia, levelMeter, stopStream } from "./media.js";
import { SignalClient } from "./signal.js";
import { wireInvite } from "./invite.js";

const data = rootData();
const $ = (id) => document.getElementById(id);
let preview = null;
let stopMeter = () => {};
const state = { admitted: false, checkedIn: data.checkedIn === "1", device: null };
window.carepathWaiting = state;

function setStatus(text) {
  $("wait-status").textContent = text;
}

async function deviceCheck() {
  const button = $("device-check-button");
  button.disabled = true;
  stopMeter();
  stopStream(preview);
  preview = await captureMedia({ video: true, audio: true });
  $("preview").srcObject = preview;
  stopMeter = levelMeter(preview, $("mic-level"));
  const camera = preview.getVideoTracks().some((t) => t.readyState === "live");
  const microphone = preview.getAudioTracks().some((t) => t.readyState === "live");
  state.device = { camera, microphone };
  $("device-result").textContent =
    `Camera: ${camera ? "working" : "not found"}. Microphone: ${microphone ? "working (speak to see the level move)" : "not found"}.` +
    (camera && microphone ? "" : " You can still join; the clinician can switch to audio only or chat.");
  button.disabled = false;
  button.textContent = "Test again";
  return state.device;
}

function showWait(wait) {
  if (wait.admitted) {
    enterRoom();
    return;
  }
  if (wait.kind !== "on_demand" || wait.status !== "open") return;
  const minutes = wait.estimated_wait_minutes;
  const ahead = wait.ahead ? `${wait.ahead} ${wait.ahead === 1 ? "person" : "people"} ahead of you. ` : "";
  $("wait-estimate").textContent = `${ahead}Expected wait: about ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

async function checkIn() {
  const button = $("check-in-button");
  button.disabled = true;
  try {
    const device = state.device || (await deviceCheck());
    const wait = await api(`/${data.visitId}/check-in`, { method: "POST", body: device });
    state.checkedIn = true;
    button.textContent = "Checked in";
    setStatus("You are checked in. Waiting for your clinician to let you in.");
    showWait(wait);
  } catch (error) {
    button.disabled = false;
    setStatus(error.message);
  }
}

function enterRoom() {
  if (state.admitted) return;
  state.admitted = true;
  setStatus("The clinician let you in. Opening the visit…");
  stopMeter();
  stopStream(preview);
  sessionStorage.setItem(`carepath-autojoin-${data.visitId}`, "1");
  window.location.assign(`/visits/${data.visitId}/`);
}

const signal = new SignalClient(data.visitId, {
  onMessage: (message) => {
    if (message.type === "hello" && message.admitted) enterRoom();
    if (message.type === "admitted") enterRoom();
    if (message.type === "ended") setStatus("This visit has ended.");
    if (message.type === "removed") setStatus("The clinician closed your waiting-room place.");
  },
  onClose: (code, final) => {
    if (final && code === 4403) setStatus("You may not join this visit.");
    if (final && code === 4410) setStatus("This visit has ended.");
  },
});

$("device-check-button").addEventListener("click", deviceCheck);
$("check-in-button").addEventListener("click", checkIn);
enableWiredButtons();
if (state.checkedIn) {
  $("check-in-button").textContent = "Checked in";
  $("check-in-button").disabled = true;
}
if ($("invite-form")) wireInvite(data.visitId);
signal.connect();

// The queue moves: refresh the expected wait now and then.
setInterval(async () => {
  if (state.admitted) return;
  try {
    showWait(await api(`/${data.visitId}/wait`));
  } catch {
    /* keep the last estimate */
  }
}, 30000);
