// Bulk actions on a queue's jobs (issue 17), for admins: on the jobs selected in the list, or on every job
// that the filter matches. Each request to `POST M/{queue}/bulk` does one bounded batch; a filtered action
// first counts its jobs (dry runs of the same batches), asks with that count, then calls batch after batch
// showing how far it got ("Retried 1,500 of 3,200"), and ends with what was done and what was skipped, why.

import { api } from "./api.js";
import { confirmDialog, fmtInt, h, replace, toast } from "./dom.js";
import { describeFilters, hasFilters } from "./filters.js";
import { S } from "./strings.js";

// What each state's jobs can be asked in bulk (an active job is its worker's: abort it from its row).
const BY_STATE = {
  queued: ["cancel", "delete"],
  scheduled: ["retry", "cancel", "delete"],
  dead: ["retry", "delete"],
  waiting: ["cancel", "delete"],
  succeeded: ["delete"],
  active: [],
};
const WORDS = {
  // [the button's verb, what was done, what happens to them]
  retry: [S.retry, S.retried, S.bulkEffect.retry],
  requeue: [S.requeue, S.requeued, S.bulkEffect.requeue],
  cancel: [S.cancel, S.cancelled, S.bulkEffect.cancel],
  delete: [S.delete, S.deleted, S.bulkEffect.delete],
};

export const bulkActions = (state) => BY_STATE[state] || [];

function skippedText(skipped) {
  const parts = Object.entries(skipped || {}).map(([reason, n]) => `${S.skipReason[reason] || reason}: ${fmtInt(n)}`);
  const total = Object.values(skipped || {}).reduce((a, b) => a + b, 0);
  return total ? S.skipped(total, parts.join(", ")) : "";
}

/**
 * The bar. `view()` gives the page's state and filters; `selection` is the page's Set of selected uids;
 * `settle()` runs after an action (the page reads its list again).
 */
export function bulkBar({ queue, view, selection, settle }) {
  let running = false;
  let stopAsked = false;
  const count = h("span", { class: "bulk-count" }, "");
  const selectionButtons = h("span", { class: "bulk-group" });
  const filterButtons = h("span", { class: "bulk-group" });
  const status = h("p", { class: "bulk-status", role: "status", "aria-live": "polite" });
  const stop = h("button", { type: "button", class: "btn btn-small", "data-bulk": "stop", hidden: true }, S.stop);
  const el = h(
    "div",
    { class: "bulk-bar", role: "group", "aria-label": S.bulkActions, hidden: true },
    h("div", { class: "bulk-row" }, count, selectionButtons, filterButtons),
    h("div", { class: "bulk-row" }, status, stop),
  );
  stop.addEventListener("click", () => {
    stopAsked = true;
    stop.disabled = true;
  });

  function say(text) {
    status.textContent = text;
  }

  function button(action, scope) {
    const [verb] = WORDS[action];
    const danger = action === "delete";
    const label = scope === "selection" ? S.bulkSelected(verb, danger) : S.bulkAllMatching(verb);
    const b = h("button", { type: "button", class: `btn btn-small${danger ? " btn-danger-soft" : ""}`, "data-bulk": action, "data-scope": scope, disabled: running }, label);
    b.addEventListener("click", () => (scope === "selection" ? onSelection(action) : onFilter(action)));
    return b;
  }

  function render() {
    const { state, filters } = view();
    const actions = bulkActions(state);
    const n = selection.size;
    count.textContent = n ? S.jobsSelected(n) : "";
    replace(selectionButtons, n ? actions.map((a) => button(a, "selection")) : null);
    replace(filterButtons, hasFilters(filters) ? actions.map((a) => button(a, "filter")) : null);
    el.hidden = !actions.length || (!n && !hasFilters(filters) && !status.textContent);
  }

  async function run(work) {
    running = true;
    stopAsked = false;
    render();
    try {
      await work();
    } catch (err) {
      say(S.stoppedBecause(err.message));
      toast(err.message, "error");
    } finally {
      running = false;
      stop.hidden = true;
      stop.disabled = false;
      render();
      settle();
    }
  }

  async function onSelection(action) {
    const [verb, done, what] = WORDS[action];
    const ids = [...selection];
    const ok = await confirmDialog({
      title: S.bulkTitle(verb, S.selectedJobs(ids.length)),
      text: S.bulkSelectionText(S.jobs(ids.length), queue, what),
      confirm: S.bulkConfirm(verb, S.jobs(ids.length)),
      danger: action === "delete" || action === "cancel",
    });
    if (!ok) return;
    await run(async () => {
      const answer = await api.bulk(queue, { action, ids });
      selection.clear();
      const text = S.bulkDone(done, fmtInt(answer.done), fmtInt(ids.length), skippedText(answer.skipped), false);
      say(text);
      toast(text);
    });
  }

  async function onFilter(action) {
    const [verb, done, what] = WORDS[action];
    const { state, filters } = view();
    const filter = { state, ...filters };
    await run(async () => {
      stop.hidden = false;
      let matched = 0;
      let cursor = null;
      do {
        const answer = await api.bulk(queue, { action, filter, cursor, dry_run: true });
        matched += answer.matched;
        cursor = answer.next;
        say(S.counting(matched));
      } while (cursor !== null && !stopAsked);
      if (stopAsked) return say(S.stoppedBefore);
      if (!matched) return say(S.nothingMatches(state));
      stop.hidden = true;
      const ok = await confirmDialog({
        title: S.bulkTitle(verb, S.matchingJobs(matched)),
        text: S.bulkFilterText(S.stateJobs(matched, state), queue, describeFilters(filters), what),
        confirm: S.bulkConfirm(verb, S.jobs(matched)),
        danger: action === "delete" || action === "cancel",
      });
      if (!ok) return say("");
      stop.hidden = false;
      let total = 0;
      const skipped = {};
      cursor = null;
      do {
        const answer = await api.bulk(queue, { action, filter, cursor });
        total += answer.done;
        for (const [reason, n] of Object.entries(answer.skipped)) skipped[reason] = (skipped[reason] || 0) + n;
        cursor = answer.next;
        say(S.bulkProgress(done, fmtInt(total), fmtInt(Math.max(matched, total))));
      } while (cursor !== null && !stopAsked);
      const text = S.bulkDone(done, fmtInt(total), fmtInt(Math.max(matched, total)), skippedText(skipped), stopAsked);
      say(text);
      toast(text);
    });
  }

  /** A new view (another state, other filters): the last action's report goes. */
  function reset() {
    if (!running) say("");
    render();
  }

  return { el, render, reset };
}
