// JSON calls to /api/v1/visits with the page's CSRF token (sessions, including guests').

export function csrfToken() {
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

export class ApiError extends Error {
  constructor(message, status, code, fields) {
    super(message);
    this.status = status;
    this.code = code;
    this.fields = fields || [];
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const response = await fetch(`/api/v1/visits${path}`, {
    method,
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    throw new ApiError(error.message || `Request failed (${response.status})`, response.status, error.code, error.fields);
  }
  return data;
}

export function rootData() {
  const root = document.getElementById("visit-root");
  return root ? { root, ...root.dataset, visitId: Number(root.dataset.visitId), participantId: Number(root.dataset.participantId) } : null;
}

// Buttons stay disabled until their handlers are wired (no click is lost to a slow load).
export function enableWiredButtons() {
  for (const button of document.querySelectorAll("[data-needs-js]")) {
    button.disabled = false;
    button.removeAttribute("data-needs-js");
  }
}
