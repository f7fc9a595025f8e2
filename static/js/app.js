// Small progressive enhancements; every page works without them.

function wireGotoPatient() {
  const form = document.querySelector("form[data-goto-patient]");
  if (!form) return;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const id = form.querySelector("input[name=id]").value.trim();
    if (/^\d+$/.test(id)) window.location.assign(`/staff/patients/${id}/`);
  });
}

function liveNotifications() {
  const badge = document.querySelector("[data-live-count]");
  if (!badge || !document.body.dataset.signedIn) return;
  const scheme = window.location.protocol === "https:" ? "wss" : "ws";
  let unseen = 0;
  const socket = new WebSocket(`${scheme}://${window.location.host}/ws/notifications/`);
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.type !== "notification") return;
    unseen += 1;
    badge.textContent = `${unseen} new`;
    badge.hidden = false;
  });
}

// Panels that phones keep folded (e.g. the audit filters) start open on wide screens.
function openPanelsOnWideScreens() {
  if (!window.matchMedia("(min-width: 48rem)").matches) return;
  for (const panel of document.querySelectorAll("details[data-open-wide]")) panel.open = true;
}

// Authenticator and recovery codes are digits: bring up the number pad on phones.
function numericCodeFields() {
  for (const input of document.querySelectorAll("input[autocomplete=one-time-code]")) {
    input.inputMode = "numeric";
    input.spellcheck = false;
  }
}

wireGotoPatient();
liveNotifications();
openPanelsOnWideScreens();
numericCodeFields();
