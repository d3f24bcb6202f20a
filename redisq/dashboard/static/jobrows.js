// The rows of a queue's job list (issue 17): each says what its job is (the task, its arguments on one
// line, its last error on one line), offers the job's own actions and, to admins, a box that selects it
// for a bulk action (bulk.js).

import { api } from "./api.js";
import { callSummary, confirmDialog, errorSummary, fmtDuration, fmtInt, h, jobHref, timeAgo, toMillis, toast } from "./dom.js";
import { S } from "./strings.js";

const MOMENT = { queued: "enqueued_at", scheduled: "due_at", active: "started_at", succeeded: "finished_at", dead: "finished_at", waiting: "enqueued_at" };
// Each state's actions on one row, as the job page offers them: [action, label, confirm first].
const ROW_ACTIONS = {
  queued: [["cancel", S.cancel]],
  scheduled: [["promote", S.runNow], ["cancel", S.cancel]],
  waiting: [["cancel", S.cancel]],
  dead: [["retry", S.retry], ["delete", S.deleteAsk]],
  active: [["abort", S.abortAsk]],
};
const CONFIRM = {
  delete: (job) => ({ title: S.deleteJobTitle, text: S.deleteJobText(job.id), confirm: S.deleteJob }),
  abort: (job) => ({ title: S.abortJobTitle, text: S.abortJobText(job.id), confirm: S.abortJob }),
};

function errorLine(job) {
  const text = errorSummary(job.error);
  return h("span", { class: "error-text one-line", title: text }, text);
}

function details(job, state) {
  if (state === "dead" && job.error) return errorLine(job);
  if (state === "scheduled") {
    if (job.attempts === 0) return S.delayed;
    return job.error ? h("span", { class: "one-line-row" }, S.retryNext, errorLine(job)) : S.waitingToRetry;
  }
  if (state === "active") {
    const parts = [];
    if (job.progress && typeof job.progress.value === "number") parts.push(`${Math.round(job.progress.value * 100)}%`);
    if (job.worker) parts.push(S.onWhere(job.worker));
    return parts.join(" ");
  }
  if (state === "succeeded") {
    const start = toMillis(job.started_at);
    const end = toMillis(job.finished_at);
    return start !== null && end !== null ? S.ran(fmtDuration((end - start) / 1000)) : "";
  }
  return job.priority ? S.priority(job.priority) : "";
}

function argumentsCell(job) {
  const whole = JSON.stringify({ args: job.args, kwargs: job.kwargs });
  return h("span", { class: "args-summary mono", title: whole.length > 1000 ? `${whole.slice(0, 1000)}…` : whole }, callSummary(job.args, job.kwargs));
}

function actionButtons(job, onChange) {
  return (ROW_ACTIONS[job.state] || []).map(([name, label]) => {
    const danger = name === "delete" || name === "abort";
    const button = h(
      "button",
      { type: "button", class: `btn btn-small${danger ? " btn-danger-soft" : ""}`, "data-action": name, "aria-label": S.labelFor(label.replace("…", ""), job.uid) },
      label,
    );
    button.addEventListener("click", async () => {
      if (CONFIRM[name] && !(await confirmDialog(CONFIRM[name](job)))) return;
      button.disabled = true;
      try {
        await api.jobAction(job.queue, job.uid, name);
        toast(S.rowDone[name](job.uid));
      } catch (err) {
        toast(err.message, "error");
      } finally {
        button.disabled = false;
        onChange();
      }
    });
    return button;
  });
}

/**
 * The table of a page of jobs (`moment`: the name of its time column). `selection` (a Set of uids, kept by the page across reloads) is shown and
 * changed through the boxes when `selectable`; `onSelect` runs after each change, `onChange` after a row's
 * action.
 */
export function jobTable({ data, caption, moment, admin, selectable, selection, onSelect, onChange }) {
  const rowBoxes = [];
  const allBox = selectable ? h("input", { type: "checkbox", class: "select-box", "aria-label": S.selectAll }) : null;
  const syncAll = () => {
    if (!allBox) return;
    const chosen = rowBoxes.filter((box) => box.checked).length;
    allBox.checked = chosen > 0 && chosen === rowBoxes.length;
    allBox.indeterminate = chosen > 0 && chosen < rowBoxes.length;
  };
  const rows = data.items.map((job) => {
    let box = null;
    if (selectable) {
      box = h("input", { type: "checkbox", class: "select-box", "aria-label": S.selectJob(job.uid), checked: selection.has(job.uid) });
      box.addEventListener("change", () => {
        if (box.checked) selection.add(job.uid);
        else selection.delete(job.uid);
        box.closest("tr").classList.toggle("is-selected", box.checked);
        syncAll();
        onSelect();
      });
      rowBoxes.push(box);
    }
    return h(
      "tr",
      { dataset: { uid: job.uid }, class: selection && selection.has(job.uid) ? "is-selected" : null },
      selectable ? h("td", { "data-label": S.selectColumn, class: "select" }, box) : null,
      h("td", { "data-label": S.job }, h("a", { href: jobHref(job.queue, job.uid), class: "mono", title: job.uid }, job.uid)),
      h("td", { "data-label": S.task }, h("span", { class: "task-name", title: job.task }, job.task)),
      h("td", { "data-label": S.arguments, class: "args" }, argumentsCell(job)),
      h("td", { "data-label": S.attempts, class: "num" }, `${fmtInt(job.attempts)} / ${fmtInt(job.max_attempts)}`),
      h("td", { "data-label": moment, class: "nowrap" }, timeAgo(job[MOMENT[data.state]])),
      h("td", { "data-label": S.details, class: "details" }, details(job, data.state)),
      admin ? h("td", { "data-label": S.actions, class: "row-actions" }, h("span", { class: "row-buttons" }, actionButtons(job, onChange))) : null,
    );
  });
  if (allBox) {
    allBox.addEventListener("change", () => {
      for (const [i, box] of rowBoxes.entries()) {
        box.checked = allBox.checked;
        box.closest("tr").classList.toggle("is-selected", box.checked);
        const uid = data.items[i].uid;
        if (allBox.checked) selection.add(uid);
        else selection.delete(uid);
      }
      syncAll();
      onSelect();
    });
    syncAll();
  }
  const headers = [selectable ? h("th", { scope: "col", class: "select" }, allBox) : null, S.job, S.task, S.arguments, S.attempts, moment, S.details];
  if (admin) headers.push(S.actions);
  return h(
    "table",
    { class: "table table-cards job-table" },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", null, h("tr", null, headers.map((t) => (t instanceof Node || t === null ? t : h("th", { scope: "col" }, t))))),
    h("tbody", null, rows),
  );
}
