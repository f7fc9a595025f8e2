// Keeps a claimed work item's lease alive while its page is open and visible. Put
// <div data-work-item-lease="ITEM_ID" hidden></div> and this module on the subject's page.
// Leaving the page stops renewals; the lease then lapses and the item returns to the queue.

const RENEW_EVERY_MS = 5 * 60 * 1000;

function csrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  const input = document.querySelector("input[name=csrfmiddlewaretoken]");
  return match ? decodeURIComponent(match[1]) : input ? input.value : "";
}

async function renew(itemId, marker) {
  if (document.visibilityState !== "visible") return;
  const response = await fetch(`/api/v1/queue/${itemId}/renew`, {
    method: "POST",
    credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken() },
  });
  if (!response.ok) {
    marker.hidden = false;
    marker.textContent = "Your hold on this item has ended; claim it again from the queue.";
    marker.setAttribute("role", "alert");
  }
}

for (const marker of document.querySelectorAll("[data-work-item-lease]")) {
  const itemId = marker.dataset.workItemLease;
  if (/^\d+$/.test(itemId)) {
    window.setInterval(() => renew(itemId, marker), RENEW_EVERY_MS);
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible") renew(itemId, marker);
    });
  }
}
