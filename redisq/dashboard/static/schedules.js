// Schedules: every periodic job (issue 12) with its timing, next and last run (a link to the job that run
// wrote), paused or not, and where it was declared; admins get Pause/Resume, Run now and Delete.
// Read from GET M/_schedules when the page opens, every few seconds while it is open, and after an action.

import { api } from "./api.js";
import { confirmDialog, h, jobHref, replace, runAction, splitJobId, timeAgo } from "./dom.js";
import { S } from "./strings.js";

const COLUMNS = [S.schedule, S.when, S.nextRun, S.lastRun, S.state];
const REFRESH_MS = 3000;

function when(s) {
  if (s.cron) return h("span", null, h("code", null, s.cron), " ", h("span", { class: "muted" }, s.tz || "UTC"));
  if (s.every_s !== null && s.every_s !== undefined) return S.everySeconds(s.every_s);
  return h("span", { class: "muted" }, S.damaged);
}

function lastRun(s) {
  if (!s.last_run) return h("span", { class: "muted" }, S.never);
  const parts = [timeAgo(s.last_run)];
  if (s.last_job) {
    const { queue, uid } = splitJobId(s.last_job);
    parts.push(" · ", h("a", { href: jobHref(queue, uid), class: "mono small", "data-role": "last-job", title: s.last_job }, S.jobLink));
  }
  return h("div", null, parts);
}

export function schedulesPage(ctx) {
  const heading = h("h1", { tabindex: "-1" }, S.schedules);
  const count = h("p", { class: "lede" }, S.loading);
  const columns = ctx.admin ? [...COLUMNS, S.actions] : COLUMNS;
  const body = h("tbody");
  const table = h(
    "table",
    { class: "table table-cards schedules" },
    h("caption", { class: "visually-hidden" }, S.periodicJobs),
    h("thead", null, h("tr", null, columns.map((t) => h("th", { scope: "col" }, t)))),
    body,
  );
  const el = h("section", { class: "page page-schedules" }, heading, count, h("div", { class: "table-wrap" }, table));
  let timer = null;
  let busy = false;
  let lastKey = null;

  function act(button, work, done) {
    busy = true;
    return runAction(button, work, done, () => {
      busy = false;
      load();
    });
  }

  function actions(s) {
    const label = (text, action) => h("button", { type: "button", class: "btn btn-small", "data-action": action, "aria-label": S.labelFor(text, s.id) }, text);
    const toggle = s.paused ? label(S.resume, "resume") : label(S.pause, "pause");
    toggle.addEventListener("click", () =>
      act(toggle, () => api.scheduleAction(s.id, s.paused ? "resume" : "pause"), () => (s.paused ? S.runsAgain(s.id) : S.isPaused(s.id))),
    );
    const runNow = label(S.runNow, "run");
    runNow.addEventListener("click", () => act(runNow, () => api.scheduleAction(s.id, "run"), (answer) => S.scheduleEnqueued(s.id, answer.job)));
    const remove = h("button", { type: "button", class: "btn btn-small btn-danger-soft", "data-action": "delete", "aria-label": S.labelFor(S.delete, s.id) }, S.delete);
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: S.deleteScheduleTitle(s.id),
        text: s.origin === "code" ? S.declaredInCode : S.noMoreRuns,
        confirm: S.deleteSchedule,
      });
      if (ok) act(remove, () => api.scheduleAction(s.id, "delete"), () => S.scheduleDeleted(s.id));
    });
    return h("td", { "data-label": S.actions }, h("div", { class: "actions", role: "group", "aria-label": S.actionsFor(s.id) }, toggle, runNow, remove));
  }

  function row(s) {
    const state = s.paused ? h("span", { class: "badge badge-paused" }, S.paused) : h("span", { class: "badge" }, S.activeWord);
    return h(
      "tr",
      { dataset: { schedule: s.id } },
      h("td", { "data-label": S.schedule }, h("div", null, h("span", { class: "strong" }, s.id), h("span", { class: "muted small" }, S.scheduleTaskOn(s.task), h("span", { class: "queue-name" }, s.queue), ` · ${s.origin}`))),
      h("td", { "data-label": S.when, class: "nowrap" }, when(s)),
      h("td", { "data-label": S.nextRun, class: "nowrap", "data-role": "next" }, s.next_run ? timeAgo(s.next_run) : h("span", { class: "muted" }, "–")),
      h("td", { "data-label": S.lastRun, class: "nowrap" }, lastRun(s)),
      h("td", { "data-label": S.state }, state),
      ctx.admin ? (ctx.canAdmin(s.queue) ? actions(s) : h("td")) : null,
    );
  }

  async function load() {
    if (busy) return;
    try {
      const { schedules } = await api.schedules();
      const key = JSON.stringify(schedules);
      if (key === lastKey) return; // unchanged: a focused button keeps its focus
      lastKey = key;
      count.textContent = S.scheduleCount(schedules.length);
      if (!schedules.length) {
        replace(body, h("tr", null, h("td", { colspan: String(columns.length), class: "empty" }, S.noSchedules)));
        return;
      }
      replace(body, ...schedules.map(row));
    } catch (err) {
      count.textContent = err.message;
    }
  }

  load();
  timer = setInterval(load, REFRESH_MS);
  return { el, title: S.schedules, heading, dispose: () => clearInterval(timer) };
}
