// Schedules: every periodic job (issue 12) with its timing, next and last run (a link to the job that run
// wrote), paused or not, and where it was declared; admins get Pause/Resume, Run now and Delete.
// Read from GET M/_schedules when the page opens, every few seconds while it is open, and after an action.

import { api } from "./api.js";
import { confirmDialog, h, jobHref, replace, runAction, splitJobId, timeAgo } from "./dom.js";

const COLUMNS = ["Schedule", "When", "Next run", "Last run", "State"];
const REFRESH_MS = 3000;

function when(s) {
  if (s.cron) return h("span", null, h("code", null, s.cron), " ", h("span", { class: "muted" }, s.tz || "UTC"));
  if (s.every_s !== null && s.every_s !== undefined) return `every ${s.every_s} s`;
  return h("span", { class: "muted" }, "damaged");
}

function lastRun(s) {
  if (!s.last_run) return h("span", { class: "muted" }, "never");
  const parts = [timeAgo(s.last_run)];
  if (s.last_job) {
    const { queue, uid } = splitJobId(s.last_job);
    parts.push(" · ", h("a", { href: jobHref(queue, uid), class: "mono small", "data-role": "last-job", title: s.last_job }, "job"));
  }
  return h("div", null, parts);
}

export function schedulesPage(ctx) {
  const heading = h("h1", { tabindex: "-1" }, "Schedules");
  const count = h("p", { class: "lede" }, "Loading…");
  const columns = ctx.admin ? [...COLUMNS, "Actions"] : COLUMNS;
  const body = h("tbody");
  const table = h(
    "table",
    { class: "table table-cards schedules" },
    h("caption", { class: "visually-hidden" }, "Periodic jobs"),
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
    const label = (text, action) => h("button", { type: "button", class: "btn btn-small", "data-action": action, "aria-label": `${text}: ${s.id}` }, text);
    const toggle = s.paused ? label("Resume", "resume") : label("Pause", "pause");
    toggle.addEventListener("click", () =>
      act(toggle, () => api.scheduleAction(s.id, s.paused ? "resume" : "pause"), () => (s.paused ? `${s.id} runs again.` : `${s.id} is paused.`)),
    );
    const runNow = label("Run now", "run");
    runNow.addEventListener("click", () => act(runNow, () => api.scheduleAction(s.id, "run"), (answer) => `${s.id}: job ${answer.job} enqueued.`));
    const remove = h("button", { type: "button", class: "btn btn-small btn-danger-soft", "data-action": "delete", "aria-label": `Delete: ${s.id}` }, "Delete");
    remove.addEventListener("click", async () => {
      const ok = await confirmDialog({
        title: `Delete ${s.id}?`,
        text: s.origin === "code" ? "It is declared in the app's code: it comes back when a worker starts with that code." : "No job will run for it any more.",
        confirm: "Delete schedule",
      });
      if (ok) act(remove, () => api.scheduleAction(s.id, "delete"), () => `${s.id} deleted.`);
    });
    return h("td", { "data-label": "Actions" }, h("div", { class: "actions", role: "group", "aria-label": `Actions for ${s.id}` }, toggle, runNow, remove));
  }

  function row(s) {
    const state = s.paused ? h("span", { class: "badge badge-paused" }, "paused") : h("span", { class: "badge" }, "active");
    return h(
      "tr",
      { dataset: { schedule: s.id } },
      h("td", { "data-label": "Schedule" }, h("div", null, h("span", { class: "strong" }, s.id), h("span", { class: "muted small" }, ` ${s.task} on `, h("span", { class: "queue-name" }, s.queue), ` · ${s.origin}`))),
      h("td", { "data-label": "When", class: "nowrap" }, when(s)),
      h("td", { "data-label": "Next run", class: "nowrap", "data-role": "next" }, s.next_run ? timeAgo(s.next_run) : h("span", { class: "muted" }, "–")),
      h("td", { "data-label": "Last run", class: "nowrap" }, lastRun(s)),
      h("td", { "data-label": "State" }, state),
      ctx.admin ? actions(s) : null,
    );
  }

  async function load() {
    if (busy) return;
    try {
      const { schedules } = await api.schedules();
      const key = JSON.stringify(schedules);
      if (key === lastKey) return; // unchanged: a focused button keeps its focus
      lastKey = key;
      count.textContent = schedules.length === 1 ? "1 schedule." : `${schedules.length} schedules.`;
      if (!schedules.length) {
        replace(body, h("tr", null, h("td", { colspan: String(columns.length), class: "empty" }, "No periodic job is declared.")));
        return;
      }
      replace(body, ...schedules.map(row));
    } catch (err) {
      count.textContent = err.message;
    }
  }

  load();
  timer = setInterval(load, REFRESH_MS);
  return { el, title: "Schedules", heading, dispose: () => clearInterval(timer) };
}
