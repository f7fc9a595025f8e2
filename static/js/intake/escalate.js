// The escalation form: the "now" button names the mode chosen ("Start audio visit now"), and
// is off for a facilitated visit (those are booked with the clinic: offer scheduled times).

const form = document.querySelector("[data-escalate-form]");
const select = form?.querySelector("select[name$=mode]");
const now = form?.querySelector("#escalate-now");

function update() {
  if (!select || !now) return;
  const label = select.options[select.selectedIndex]?.text || "Video visit";
  const kind = label.replace(/ visit$/i, "").toLowerCase();
  now.textContent = now.dataset.labelTemplate.replace("{mode}", kind);
  now.disabled = select.value === "facilitated";
}

select?.addEventListener("change", update);
update();
