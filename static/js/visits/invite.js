// "Invite a caregiver or interpreter": creates a single-use link and shows it once.

import { api } from "./api.js";

export function wireInvite(visitId) {
  const form = document.getElementById("invite-form");
  const error = document.getElementById("invite-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const body = {
      role: form.elements.role.value,
      name: form.elements.name.value.trim(),
    };
    const email = form.elements.email.value.trim();
    if (email) body.email = email;
    if (!body.name) {
      error.textContent = "Say who you are inviting.";
      error.hidden = false;
      return;
    }
    try {
      const link = await api(`/${visitId}/invites`, { method: "POST", body });
      document.getElementById("invite-link").textContent = `${window.location.origin}${link.url}`;
      document.getElementById("invite-result").hidden = false;
      form.reset();
    } catch (failure) {
      error.textContent = failure.fields.length ? failure.fields[0].message : failure.message;
      error.hidden = false;
    }
  });
}
