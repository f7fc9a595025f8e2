// Shows how long the RPM timer has run. The server holds the truth (start time); this only
// displays it, and the page works without it.

function pad(n) {
  return String(n).padStart(2, "0");
}

function showElapsed(panel) {
  const started = Date.parse(panel.dataset.started);
  const output = panel.querySelector("[data-rpm-elapsed]");
  if (Number.isNaN(started) || !output) return;
  const tick = () => {
    const seconds = Math.max(0, Math.floor((Date.now() - started) / 1000));
    const hours = Math.floor(seconds / 3600);
    const minutes = Math.floor((seconds % 3600) / 60);
    output.textContent = `${hours ? `${hours}:` : ""}${pad(minutes)}:${pad(seconds % 60)} elapsed`;
  };
  tick();
  window.setInterval(tick, 1000);
}

for (const panel of document.querySelectorAll("[data-rpm-timer]")) showElapsed(panel);
