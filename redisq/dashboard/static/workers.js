// Workers: every live worker from the snapshot's heartbeats, with links to the jobs it runs now.

import { fmtInt, h, jobHref, replace, splitJobId, timeAgo, toMillis } from "./dom.js";

const STALE_S = 15; // a heartbeat older than this is shown as late

function jobLinks(jobs) {
  if (!jobs || !jobs.length) return h("span", { class: "muted" }, "idle");
  return h(
    "ul",
    { class: "job-links" },
    jobs.map(({ id }) => {
      const { queue, uid } = splitJobId(id);
      return h("li", null, h("a", { href: jobHref(queue, uid), class: "mono" }, uid || id));
    }),
  );
}

function workerRow(w, now) {
  const seen = toMillis(w.last_seen);
  const late = seen !== null && now - seen > STALE_S * 1000;
  return h(
    "tr",
    { class: late ? "is-late" : null },
    h("td", { "data-label": "Host" }, h("span", { class: "strong" }, String(w.host ?? "")), h("div", { class: "muted mono small" }, String(w.id ?? ""))),
    h("td", { "data-label": "PID", class: "num" }, String(w.pid ?? "")),
    h("td", { "data-label": "Queues" }, (w.queues || []).join(", ")),
    h("td", { "data-label": "Busy", class: "num" }, `${fmtInt(w.active)} / ${fmtInt(w.concurrency)}`),
    h("td", { "data-label": "Current jobs" }, jobLinks(w.jobs)),
    h("td", { "data-label": "Processed", class: "num" }, fmtInt(w.processed)),
    h("td", { "data-label": "Started" }, timeAgo(w.started_at)),
    h("td", { "data-label": "Last heartbeat" }, timeAgo(w.last_seen), late ? h("span", { class: "badge badge-warn" }, "late") : null),
  );
}

export function workersPage(ctx) {
  const heading = h("h1", { tabindex: "-1" }, "Workers");
  const count = h("p", { class: "lede" }, "Waiting for the first update…");
  const body = h("tbody");
  const table = h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table table-cards" },
      h("caption", { class: "visually-hidden" }, "Live workers"),
      h(
        "thead",
        null,
        h(
          "tr",
          null,
          ["Host", "PID", "Queues", "Busy", "Current jobs", "Processed", "Started", "Last heartbeat"].map((t) =>
            h("th", { scope: "col" }, t),
          ),
        ),
      ),
      body,
    ),
  );
  const el = h("section", { class: "page page-workers" }, heading, count, table);
  let lastKey = "";

  function render(snapshot) {
    const workers = [...(snapshot.workers || [])].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    count.textContent = workers.length === 1 ? "1 worker is alive." : `${fmtInt(workers.length)} workers are alive.`;
    // Rebuild only when something shown changed, so a focused job link keeps its focus between snapshots.
    const key = JSON.stringify(workers.map((w) => [w.id, w.active, w.jobs, w.processed, w.last_seen]));
    if (key === lastKey) return;
    lastKey = key;
    const focused = document.activeElement && body.contains(document.activeElement) ? document.activeElement.getAttribute("href") : null;
    const now = Date.now();
    replace(body, workers.length ? workers.map((w) => workerRow(w, now)) : h("tr", null, h("td", { colspan: "8", class: "empty" }, "No worker is alive.")));
    if (focused) {
      const again = [...body.querySelectorAll("a")].find((a) => a.getAttribute("href") === focused);
      if (again) again.focus();
    }
  }

  const unsubscribe = ctx.live.subscribe(render);
  return { el, title: "Workers", heading, dispose: unsubscribe };
}
