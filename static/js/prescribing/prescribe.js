// The prescribe page, enhanced: choosing a medication loads its form at once, and choosing a
// directions template copies it into the editable directions. Without this module the
// "Choose" button and the prefilled directions do the same.

function autosubmitMedication() {
  const select = document.querySelector("select[data-autosubmit]");
  if (!select || !select.form) return;
  select.addEventListener("change", () => {
    if (select.value) select.form.requestSubmit();
  });
}

function copySigTemplate() {
  const template = document.querySelector("select[data-sig-template]");
  const sig = document.querySelector("textarea[data-sig]");
  if (!template || !sig) return;
  template.addEventListener("change", () => {
    if (template.value) sig.value = template.value;
    sig.focus();
  });
}

autosubmitMedication();
copySigTemplate();
