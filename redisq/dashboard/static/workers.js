// Workers: every live worker from the snapshot's heartbeats, and under each the jobs it runs now (task,
// queue and how long, each a link to the job's page).
//
// Issue 11: numbers (pid, "10 / 10") stay on one line, ids and host names are cut with an ellipsis (whole
// in a tooltip) instead of breaking mid-string, and task and queue names are never broken inside. The
// current jobs take a row of their own, the table's whole width: in a column they squeezed the others.

import { fmtInt, h, jobHref, replace, runningFor, splitJobId, timeAgo, toMillis } from "./dom.js";
import { S } from "./strings.js";

const STALE_S = 15; // a heartbeat older than this is shown as late
const COLUMNS = [S.host, S.pid, S.queues, S.busy, S.processed, S.started, S.lastHeartbeat];

function currentJob({ id, task, started_at: startedAt }) {
  const { queue, uid } = splitJobId(id);
  const name = task || S.startingTask; // the task is known once the worker has decoded the job
  return h(
    "li",
    { class: "current-job" },
    h("a", { href: jobHref(queue, uid), class: "task-name", title: S.jobTooltip(name, id) }, name),
    h(
      "span",
      { class: "job-meta muted" },
      S.onBefore,
      h("span", { class: "queue-name" }, queue),
      startedAt ? [" · ", h("span", { class: "nowrap" }, runningFor(startedAt))] : null,
    ),
  );
}

function jobsRow(w) {
  const jobs = [...(w.jobs || [])].sort((a, b) => (toMillis(a.started_at) ?? 0) - (toMillis(b.started_at) ?? 0));
  if (!jobs.length) return null;
  return h(
    "tr",
    { class: "jobs-row" },
    h("td", { colspan: String(COLUMNS.length), "data-label": S.currentJobs }, h("ul", { class: "job-links", "aria-label": S.jobsRunningOn(w.id) }, jobs.map(currentJob))),
  );
}

function queueNames(queues) {
  const names = (queues || []).map((q) => h("span", { class: "queue-name" }, String(q)));
  return names.flatMap((name, i) => (i ? [", ", name] : [name]));
}

function isLate(w, now, stale) {
  const seen = toMillis(w.last_seen);
  // While Redis is away every heartbeat looks old: "late" would blame the workers for it.
  return !stale && seen !== null && now - seen > STALE_S * 1000;
}

function heartbeat(w, late) {
  return h("div", null, timeAgo(w.last_seen), late ? [" ", h("span", { class: "badge badge-warn" }, S.late)] : null);
}

/** One worker: a <tbody> of its row and, while it runs jobs, the row of its jobs. */
function workerGroup(w, now, stale) {
  const late = isLate(w, now, stale);
  const id = String(w.id ?? "");
  const host = String(w.host ?? "");
  const row = h(
    "tr",
    { class: "worker-row" },
    // One element per cell: on phones each cell is a two-column grid (its label, then this).
    h("td", { "data-label": S.host }, h("div", null, h("span", { class: "strong id-cut host", title: host }, host), h("span", { class: "muted mono small id-cut worker-id", title: id }, id))),
    h("td", { "data-label": S.pid, class: "num" }, String(w.pid ?? "")),
    h("td", { "data-label": S.queues, class: "queues" }, h("div", null, queueNames(w.queues))),
    h("td", { "data-label": S.busy, class: "num" }, `${fmtInt(w.active)} / ${fmtInt(w.concurrency)}`),
    h("td", { "data-label": S.processed, class: "num" }, fmtInt(w.processed)),
    h("td", { "data-label": S.started, class: "nowrap" }, timeAgo(w.started_at)),
    h("td", { "data-label": S.lastHeartbeat, class: "nowrap beat" }, heartbeat(w, late)),
  );
  return h("tbody", { class: late ? "worker is-late" : "worker", dataset: { worker: id } }, row, jobsRow(w));
}

export function workersPage(ctx) {
  const heading = h("h1", { tabindex: "-1" }, S.workers);
  const count = h("p", { class: "lede" }, S.firstUpdate);
  const table = h(
    "table",
    { class: "table table-cards workers" },
    h("caption", { class: "visually-hidden" }, S.liveWorkers),
    h("thead", null, h("tr", null, COLUMNS.map((t) => h("th", { scope: "col" }, t)))),
  );
  const none = h("tbody", null, h("tr", null, h("td", { colspan: String(COLUMNS.length), class: "empty" }, S.noWorker)));
  const el = h("section", { class: "page page-workers" }, heading, count, h("div", { class: "table-wrap" }, table));
  const groups = new Map(); // worker id → { el, key }: rebuilt only when what it shows changed

  function render(snapshot) {
    const workers = [...(snapshot.workers || [])].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    const stale = snapshot.redis_ok === false;
    const now = Date.now();
    count.textContent = S.workersAliveCount(workers.length);
    const alive = new Set(workers.map((w) => String(w.id)));
    for (const [id, group] of groups) {
      if (!alive.has(id)) {
        group.el.remove();
        groups.delete(id);
      }
    }
    if (!workers.length) {
      if (!none.isConnected) table.appendChild(none);
      return;
    }
    none.remove();
    // Every heartbeat moves last_seen: that cell alone is redrawn, so the rest stays put (a focused link
    // keeps its focus, a selected id its selection).
    let previous = table.tHead;
    for (const w of workers) {
      const id = String(w.id);
      const key = JSON.stringify([w.host, w.pid, w.queues, w.active, w.concurrency, w.jobs, w.processed, w.started_at, stale]);
      let group = groups.get(id);
      if (!group || group.key !== key) {
        const el = workerGroup(w, now, stale);
        if (group) {
          const focused = group.el.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
          group.el.replaceWith(el);
          const again = focused && [...el.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused);
          if (again) again.focus();
        }
        group = { el, key };
        groups.set(id, group);
      } else {
        const late = isLate(w, now, stale);
        group.el.classList.toggle("is-late", late);
        replace(group.el.querySelector("td.beat"), heartbeat(w, late));
      }
      if (previous.nextSibling !== group.el) table.insertBefore(group.el, previous.nextSibling);
      previous = group.el;
    }
  }

  const unsubscribe = ctx.live.subscribe(render);
  return { el, title: S.workers, heading, dispose: unsubscribe };
}
