// Shows the webhook URL and secret only when "Signed webhook" is chosen. The server validates
// either way; without this script every field simply stays visible.

function fieldBlock(input) {
  return input.closest(".field");
}

function setUp(form) {
  const radios = form.querySelectorAll('input[name="adapter"]');
  const webhookInputs = form.querySelectorAll("[data-webhook-field]");
  if (!radios.length || !webhookInputs.length) return;
  const update = () => {
    const checked = form.querySelector('input[name="adapter"]:checked');
    const isWebhook = checked !== null && checked.value === "webhook";
    for (const input of webhookInputs) {
      const block = fieldBlock(input);
      // Keep a field with an error visible, so the message is never hidden.
      if (block && !block.classList.contains("has-error")) block.hidden = !isWebhook;
    }
  };
  for (const radio of radios) radio.addEventListener("change", update);
  update();
}

for (const form of document.querySelectorAll("[data-pharmacy-form]")) setUp(form);
