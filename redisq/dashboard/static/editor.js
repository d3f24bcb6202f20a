// Edit and retry (issue 17): a dead job's arguments as JSON in a dialog, sent back with the retry. The
// server checks them as it checks an enqueue's (the task's signature, the size limit); its answer to
// arguments that do not fit (a 422 or 413: nothing changed) is shown in the dialog, by the text, and the
// dialog stays open to fix them.

import { api } from "./api.js";
import { h, pretty } from "./dom.js";
import { S } from "./strings.js";

/** Opens the editor on `job`; resolves true once the job is queued again, false if the user cancelled. */
export function editAndRetry(job) {
  return new Promise((resolve) => {
    const titleId = `edit-title-${job.uid}`;
    const hintId = `edit-hint-${job.uid}`;
    const errorId = `edit-error-${job.uid}`;
    const text = h("textarea", {
      id: `edit-args-${job.uid}`,
      class: "json-editor",
      rows: "10",
      spellcheck: "false",
      autocomplete: "off",
      "aria-describedby": `${hintId} ${errorId}`,
    });
    text.value = pretty({ args: job.args, kwargs: job.kwargs });
    const error = h("p", { id: errorId, class: "field-error", role: "alert", hidden: true });
    const cancel = h("button", { type: "button", class: "btn" }, S.cancel);
    const submit = h("button", { type: "submit", class: "btn btn-primary" }, S.retryWithThese);
    const form = h(
      "form",
      { method: "dialog", class: "edit-form" },
      h("h2", { id: titleId }, S.editAndRetry),
      h(
        "p",
        { id: hintId },
        S.editRunsAgain(job.task),
        S.editMustFit,
        h("code", null, "args"),
        S.editAList,
        h("code", null, "kwargs"),
        S.editAnObject,
      ),
      h("label", { for: text.id }, S.argumentsJson),
      text,
      error,
      h("div", { class: "dialog-actions" }, cancel, submit),
    );
    const dialog = h("dialog", { class: "dialog dialog-wide", "aria-labelledby": titleId }, form);

    let answered = false;
    const finish = (retried) => {
      if (answered) return;
      answered = true;
      if (dialog.open) dialog.close();
      dialog.remove();
      resolve(retried);
    };
    const showError = (message) => {
      error.textContent = message;
      error.hidden = false;
      text.setAttribute("aria-invalid", "true");
      text.focus();
    };

    cancel.addEventListener("click", () => finish(false));
    dialog.addEventListener("close", () => finish(false)); // Esc
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      let body;
      try {
        body = JSON.parse(text.value);
      } catch (err) {
        showError(S.invalidJson(err.message));
        return;
      }
      submit.disabled = true;
      try {
        await api.retryWith(job.queue, job.uid, body);
        finish(true);
      } catch (err) {
        // 422: they do not fit the task; 413: too large; 409: the job is no longer dead. Nothing changed.
        showError(err.status === 409 ? S.noLongerDead(err.message) : err.message);
      } finally {
        submit.disabled = false;
      }
    });
    text.addEventListener("input", () => {
      text.removeAttribute("aria-invalid");
      error.hidden = true;
    });

    document.body.appendChild(dialog);
    dialog.showModal();
    text.focus();
  });
}
