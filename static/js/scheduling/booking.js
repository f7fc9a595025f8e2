// Booking pages: a booking form submits once (a double click must not send two requests;
// the server's Idempotency-Key would absorb it anyway), and the search runs when a filter changes.

function submitOnce() {
  for (const form of document.querySelectorAll("form[data-once]")) {
    form.addEventListener("submit", (event) => {
      if (form.dataset.sent) {
        event.preventDefault();
        return;
      }
      form.dataset.sent = "1";
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.setAttribute("aria-disabled", "true");
      }
    });
  }
}

function searchOnChange() {
  const form = document.querySelector("form[data-slot-search]");
  if (!form) return;
  const line = form.querySelector("select[name=service_line]");
  const clinician = form.querySelector("select[name=clinician]");
  // Choosing one criterion clears the other, so the search means what the patient picked.
  line?.addEventListener("change", () => {
    if (line.value && clinician) clinician.value = "";
  });
  clinician?.addEventListener("change", () => {
    if (clinician.value && line) line.value = "";
  });
}

submitOnce();
searchOnChange();
