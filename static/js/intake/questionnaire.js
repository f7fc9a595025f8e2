// The questions page: show only the questions that apply (enableWhen, as on the server) and
// save the draft on the server as the patient types. The page works without this module:
// every question is shown with its "Answer only if" hint, and "Save and continue" saves.

const SAVE_DELAY_MS = 1200;

function csrfToken(form) {
  const input = form.querySelector("input[name=csrfmiddlewaretoken]");
  return input ? input.value : "";
}

// --- Conditional questions ------------------------------------------------------------------

function wrapperValues(wrapper) {
  // A question that does not apply has no answer (as on the server).
  if (wrapper.closest("[hidden]")) return [];
  const type = wrapper.dataset.type;
  const values = [];
  for (const input of wrapper.querySelectorAll("input, select, textarea")) {
    if (input.closest("[data-link-id]") !== wrapper) continue;
    if (input.type === "hidden" || input.type === "file") continue;
    if ((input.type === "radio" || input.type === "checkbox") && !input.checked) continue;
    const raw = input.value.trim();
    if (raw === "") continue;
    if (type === "boolean") values.push(raw === "yes");
    else if (type === "integer" || type === "decimal") {
      const number = Number(raw);
      if (!Number.isNaN(number)) values.push(number);
    } else values.push(raw);
  }
  return values;
}

// Answers to a question as seen from `element`: the same repetition of a repeating group
// first, then outwards (as the server does).
function answersFor(linkId, element) {
  let scope = element.parentElement ? element.parentElement.closest("[data-repetition]") : null;
  while (true) {
    const root = scope || document;
    const found = [...root.querySelectorAll(`[data-link-id="${CSS.escape(linkId)}"]`)];
    if (found.length || !scope) return found.flatMap(wrapperValues);
    scope = scope.parentElement ? scope.parentElement.closest("[data-repetition]") : null;
  }
}

function target(condition) {
  for (const [key, value] of Object.entries(condition)) {
    if (!key.startsWith("answer")) continue;
    return key === "answerCoding" && value ? value.code : value;
  }
  return undefined;
}

function holds(condition, answers) {
  const op = condition.operator;
  if (op === "exists") return (answers.length > 0) === Boolean(condition.answerBoolean);
  const goal = target(condition);
  return answers.some((value) => {
    if (typeof value !== typeof goal) return false;
    switch (op) {
      case "=": return value === goal;
      case "!=": return value !== goal;
      case ">": return value > goal;
      case "<": return value < goal;
      case ">=": return value >= goal;
      case "<=": return value <= goal;
      default: return false;
    }
  });
}

function enabled(element) {
  let conditions;
  try {
    conditions = JSON.parse(element.dataset.enableWhen);
  } catch {
    return true;
  }
  const results = conditions.map((c) => holds(c, answersFor(c.question, element)));
  return element.dataset.enableBehavior === "any" ? results.some(Boolean) : results.every(Boolean);
}

function applyConditions(form) {
  // Repeat until stable: hiding one question can hide another that depends on it.
  for (let round = 0; round < 10; round += 1) {
    let changed = false;
    for (const element of form.querySelectorAll("[data-enable-when]")) {
      const hidden = !enabled(element) || Boolean(element.parentElement.closest("[hidden]"));
      if (element.hidden !== hidden) {
        element.hidden = hidden;
        changed = true;
      }
    }
    if (!changed) return;
  }
}

function hideHints(form) {
  for (const hint of form.querySelectorAll(".q-hint")) hint.hidden = true;
}

// --- Emergency red flags ------------------------------------------------------------------
// The service line's emergency rules (data on the page, as the server applies them on
// submit): as soon as the answers match one, tell the patient to call 911, next to the
// question they just answered. Without this module the server shows it on the next page load.

function emergencyRules(advice) {
  try {
    const rules = JSON.parse(advice.dataset.emergencyRules || "[]");
    return Array.isArray(rules) ? rules : [];
  } catch {
    return [];
  }
}

function ruleMatches(rule) {
  const conditions = Array.isArray(rule.when) ? rule.when : [];
  if (!conditions.length) return false;
  // A red-flag condition sees every answer to its question, in any repetition.
  const results = conditions.map((c) => holds(c, answersFor(String(c.question), document.body)));
  return rule.behavior === "any" ? results.some(Boolean) : results.every(Boolean);
}

function wireEmergencyAdvice(form) {
  const advice = document.getElementById("emergency-advice");
  const banner = advice?.querySelector("[data-emergency-banner]");
  if (!advice || !banner) return;
  const rules = emergencyRules(advice);
  if (!rules.length) return;
  const check = (event) => {
    const matched = rules.find(ruleMatches);
    if (!matched) {
      banner.hidden = true;
      return;
    }
    const wasHidden = banner.hidden;
    banner.querySelector("[data-emergency-message]").textContent = matched.message;
    if (wasHidden) {
      // Show it where the patient is looking: right after the question that set it off.
      const question = event?.target?.closest?.("[data-link-id]");
      const outermost = question ? topLevelQuestion(question, form) : null;
      if (outermost) outermost.after(advice);
      banner.hidden = false;
    }
  };
  form.addEventListener("change", check);
  form.addEventListener("input", check);
}

function topLevelQuestion(element, form) {
  let current = element;
  while (current.parentElement && current.parentElement !== form) {
    const outer = current.parentElement.closest("[data-link-id]");
    if (!outer || !form.contains(outer)) break;
    current = outer;
  }
  return current;
}

// --- Autosave ---------------------------------------------------------------------------------

function wireAutosave(form) {
  const url = form.dataset.autosaveUrl;
  const status = form.querySelector("[data-autosave-status]");
  let timer = null;
  let dirty = false;
  let saving = false;

  const say = (text) => {
    if (status) status.textContent = text;
  };

  async function save() {
    if (saving) {
      timer = window.setTimeout(save, SAVE_DELAY_MS);
      return;
    }
    saving = true;
    dirty = false;
    try {
      const response = await fetch(url, {
        method: "POST",
        body: new FormData(form),
        credentials: "same-origin",
        headers: { "X-CSRFToken": csrfToken(form) },
      });
      if (!response.ok) throw new Error(String(response.status));
      const body = await response.json();
      const when = new Date(body.saved_at);
      say(`Draft saved at ${when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })}.`);
    } catch {
      dirty = true;
      say("Not saved yet: we will try again when you are back online.");
    } finally {
      saving = false;
    }
  }

  const schedule = () => {
    dirty = true;
    window.clearTimeout(timer);
    timer = window.setTimeout(save, SAVE_DELAY_MS);
  };

  form.addEventListener("input", schedule);
  form.addEventListener("change", schedule);
  window.addEventListener("online", () => {
    if (dirty) save();
  });
  // Leaving the page: hand the last changes to the browser to send.
  window.addEventListener("pagehide", () => {
    if (dirty && navigator.sendBeacon) navigator.sendBeacon(url, new FormData(form));
  });
}

const form = document.querySelector("form[data-intake-form]");
if (form) {
  hideHints(form);
  applyConditions(form);
  form.addEventListener("input", () => applyConditions(form));
  form.addEventListener("change", () => applyConditions(form));
  wireEmergencyAdvice(form);
  if (form.dataset.autosaveUrl) wireAutosave(form);
}
