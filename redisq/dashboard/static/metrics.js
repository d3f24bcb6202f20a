// Metrics over time (issue 17): attempts, failures, run time and queue wait, per queue and per task, over
// 1 h, 24 h, 72 h or 30 days. Read from GET M/_history and M/{queue}/history (redisq/admin/history.py)
// when a page opens, when its range changes, and every REFRESH_MS while it is open.
//   #/metrics                         every queue summed, and a table of the queues
//   #/metrics/<queue>?range=&task=    one queue (or one of its tasks), a table of its tasks, the slowest
//                                     and the most failing ones

import { api } from "./api.js";
import { fmtClock, fmtInt, fmtStamp, h, replace, svg } from "./dom.js";
import { S } from "./strings.js";

export const RANGES = ["1h", "24h", "72h", "30d"];
const REFRESH_MS = 15000;
const HEIGHT = 48;
const enc = encodeURIComponent;

export function metricsHref(queue, params) {
  const query = params ? "?" + new URLSearchParams(params).toString() : "";
  return queue ? `#/metrics/${enc(queue)}${query}` : `#/metrics${query}`;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1) return S.lessThanMs;
  if (ms < 1000) return `${Math.round(ms)} ${S.unit.ms}`;
  if (ms < 60000) return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} ${S.unit.s}`;
  return `${(ms / 60000).toFixed(1)} ${S.unit.min}`;
}

function failureShare(row) {
  const all = row.succeeded + row.failed;
  return all ? row.failed / all : 0;
}

/** Buttons for the ranges; `onPick(range)` when one is chosen. */
export function rangePicker(current, onPick) {
  const buttons = RANGES.map((range) =>
    h(
      "button",
      {
        type: "button",
        class: "btn btn-small range-option",
        "aria-pressed": String(range === current),
        dataset: { range },
        onclick: () => {
          buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === buttonFor(range))));
          onPick(range);
        },
      },
      range,
    ),
  );
  const buttonFor = (range) => buttons[RANGES.indexOf(range)];
  return h("div", { class: "range-picker", role: "group", "aria-label": S.timeRange }, buttons);
}

function stepLabel(stepS) {
  return stepS >= 3600 ? `${stepS / 3600} ${S.unit.h}` : `${stepS / 60} ${S.unit.min}`;
}

/** Attempts as stacked bars (succeeded below, failed on top), and the queue wait p95 as a line above. */
export function historyCharts(body) {
  const points = body.points || [];
  const n = Math.max(points.length, 1);
  const peak = Math.max(1, ...points.map((p) => p.succeeded + p.failed));
  const total = points.reduce((acc, p) => [acc[0] + p.succeeded, acc[1] + p.failed], [0, 0]);
  const bars = svg("svg", { class: "chart-svg", viewBox: `0 0 ${n} ${HEIGHT}`, preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" });
  bars.appendChild(svg("line", { class: "chart-base", x1: 0, x2: n, y1: HEIGHT, y2: HEIGHT }));
  points.forEach((p, i) => {
    if (!p.succeeded && !p.failed) return;
    const hOk = (p.succeeded / peak) * (HEIGHT - 2);
    const hFail = (p.failed / peak) * (HEIGHT - 2);
    const group = svg("g", null, svg("title", null, S.barTitle(fmtStamp(p.at), fmtInt(p.succeeded), fmtInt(p.failed))));
    if (p.succeeded) group.appendChild(svg("rect", { class: "bar-ok", x: i + 0.1, y: HEIGHT - hOk, width: 0.8, height: hOk }));
    if (p.failed) group.appendChild(svg("rect", { class: "bar-failed", x: i + 0.1, y: HEIGHT - hOk - hFail, width: 0.8, height: hFail }));
    bars.appendChild(group);
  });
  const waits = points.map((p) => p.wait_ms.p95);
  const runs = points.map((p) => p.run_ms.p95);
  const top = Math.max(1, ...waits.filter((v) => v !== null), ...runs.filter((v) => v !== null));
  const lines = svg("svg", { class: "chart-svg", viewBox: `0 0 ${n} ${HEIGHT}`, preserveAspectRatio: "none", "aria-hidden": "true", focusable: "false" });
  lines.appendChild(svg("line", { class: "chart-base", x1: 0, x2: n, y1: HEIGHT, y2: HEIGHT }));
  // Steps: each point's value across its width, so that a lone point shows too.
  for (const [values, cls] of [[runs, "line-run"], [waits, "line-wait"]]) {
    let d = "";
    values.forEach((v, i) => {
      if (v === null) return;
      const y = (HEIGHT - (v / top) * (HEIGHT - 2)).toFixed(2);
      d += i > 0 && values[i - 1] !== null ? ` V${y} H${i + 1}` : ` M${i},${y} H${i + 1}`;
    });
    if (d) lines.appendChild(svg("path", { class: cls, d: d.trim() }));
  }
  const first = points.length ? fmtClock(Date.parse(points[0].at)) : "";
  const axis = (legend) =>
    h("figcaption", { class: "chart-axis" }, h("span", null, first), h("span", { class: "legend" }, legend), h("span", null, S.now));
  return h(
    "div",
    { class: "history-charts" },
    h(
      "figure",
      { class: "chart", dataset: { chart: "attempts" } },
      h("div", { class: "chart-frame" }, h("span", { class: "chart-peak" }, total[0] + total[1] ? S.peakPer(fmtInt(peak), stepLabel(body.step_s)) : S.noAttemptInRange), bars),
      axis([h("span", { class: "key key-ok" }, S.countSucceeded(fmtInt(total[0]))), " ", h("span", { class: "key key-failed" }, S.countFailed(fmtInt(total[1])))]),
    ),
    h(
      "figure",
      { class: "chart", dataset: { chart: "latency" } },
      h("div", { class: "chart-frame" }, h("span", { class: "chart-peak" }, total[0] + total[1] ? S.upTo(fmtMs(top)) : ""), lines),
      axis([h("span", { class: "key key-run" }, S.runP95Line), " ", h("span", { class: "key key-wait" }, S.waitP95Line)]),
    ),
    h("p", { class: "visually-hidden" }, S.rangeSummary(S.range[body.range], fmtInt(total[0]), fmtInt(total[1]))),
  );
}

const COLUMNS = [
  // [label (also the cells' data-col), value of a row, formatted]
  [S.succeeded, (r) => r.succeeded, (r) => fmtInt(r.succeeded)],
  [S.failed, (r) => r.failed, (r) => fmtInt(r.failed)],
  [S.failureShare, failureShare, (r) => `${(failureShare(r) * 100).toFixed(1)}%`],
  [S.runP50, (r) => r.run_ms.p50, (r) => fmtMs(r.run_ms.p50)],
  [S.runP95, (r) => r.run_ms.p95, (r) => fmtMs(r.run_ms.p95)],
  [S.runP99, (r) => r.run_ms.p99, (r) => fmtMs(r.run_ms.p99)],
  [S.waitP50, (r) => r.wait_ms.p50, (r) => fmtMs(r.wait_ms.p50)],
  [S.waitP95, (r) => r.wait_ms.p95, (r) => fmtMs(r.wait_ms.p95)],
];

/** A table of rows (tasks or queues) that sorts by a column when its header is clicked. */
function totalsTable(rows, nameOf, linkOf, what) {
  let sortBy = 1; // failed, most first: what needs attention
  const body = h("tbody");
  const headers = [what, ...COLUMNS.map((c) => c[0])].map((label, i) =>
    h(
      "th",
      { scope: "col", "aria-sort": i === sortBy + 1 ? "descending" : "none" },
      i === 0 ? label : h("button", { type: "button", class: "sort", onclick: () => sort(i - 1) }, label),
    ),
  );
  function sort(column) {
    sortBy = column;
    headers.forEach((th, i) => th.setAttribute("aria-sort", i === column + 1 ? "descending" : "none"));
    const read = COLUMNS[column][1];
    const ordered = [...rows].sort((a, b) => (read(b) ?? -1) - (read(a) ?? -1) || nameOf(a).localeCompare(nameOf(b)));
    replace(
      body,
      ordered.map((r) =>
        h(
          "tr",
          { dataset: { row: nameOf(r) } },
          h("th", { scope: "row" }, h("a", { href: linkOf(r) }, nameOf(r))),
          COLUMNS.map(([label, , show]) => h("td", { class: "num", dataset: { col: label } }, show(r))),
        ),
      ),
    );
  }
  sort(sortBy);
  return h("div", { class: "table-wrap" }, h("table", { class: "table totals" }, h("thead", null, h("tr", null, headers)), body));
}

function topList(title, rows, read, show, nameOf, linkOf, kind) {
  const top = rows.filter((r) => (read(r) || 0) > 0).sort((a, b) => read(b) - read(a)).slice(0, 5);
  return h(
    "div",
    { class: "card top-list", dataset: { top: kind } },
    h("h2", null, title),
    top.length
      ? h("ol", null, top.map((r) => h("li", null, h("a", { href: linkOf(r) }, nameOf(r)), " ", h("span", { class: "muted" }, show(r)))))
      : h("p", { class: "empty" }, S.nothingInRange),
  );
}

/** The system's charts for the overview: a range picker and the two charts, refreshed while shown. */
export function systemPanel() {
  let range = "1h";
  let timer = null;
  const holder = h("div", { class: "history-holder" }, h("p", { class: "empty" }, S.loading));
  const picker = rangePicker(range, (r) => {
    range = r;
    load();
  });
  const el = h(
    "section",
    { class: "card system-panel", "aria-label": S.everyQueueOverTime },
    h("header", { class: "card-head" }, h("h2", null, h("a", { href: metricsHref(null) }, S.allQueues)), picker),
    holder,
  );
  async function load() {
    clearTimeout(timer);
    try {
      replace(holder, historyCharts(await api.history(range)));
    } catch (err) {
      replace(holder, h("p", { class: "bad" }, err.message));
    }
    timer = setTimeout(load, REFRESH_MS);
  }
  load();
  return { el, dispose: () => clearTimeout(timer) };
}

/** #/metrics and #/metrics/<queue>: `queue` null for every queue. */
export function metricsPage(queue, query) {
  let range = RANGES.includes(query.get("range")) ? query.get("range") : "1h";
  let task = query.get("task") || null;
  let timer = null;
  const heading = h("h1", { tabindex: "-1" }, queue ? S.metricsOf(queue) : S.metricsAll);
  const sub = h("p", { class: "muted page-sub" });
  const holder = h("div", { class: "metrics-body" }, h("p", { class: "empty" }, S.loading));
  const picker = rangePicker(range, (r) => {
    range = r;
    location.hash = metricsHref(queue, task ? { range, task } : { range });
  });
  const el = h("section", { class: "page page-metrics" }, heading, h("div", { class: "toolbar" }, sub, picker), holder);
  const taskHref = (name) => metricsHref(queue, { range, task: name });
  const queueMetricsHref = (name) => metricsHref(name, { range });

  function renderQueue(body) {
    const rows = body.tasks;
    const back = queue ? h("a", { href: `#/queues/${enc(queue)}` }, S.queueJobs) : null;
    replace(
      sub,
      task ? [S.task, " ", h("strong", { class: "mono" }, task), " · ", h("a", { href: metricsHref(queue, { range }) }, S.everyTask), " · "] : "",
      S.onePointPer(S.range[range], stepLabel(body.step_s)),
      back,
    );
    if (!rows.length && !body.points.some((p) => p.succeeded || p.failed)) {
      replace(holder, h("p", { class: "empty" }, S.noAttemptQueue(S.range[range])));
      return;
    }
    replace(
      holder,
      historyCharts(body),
      task
        ? null
        : h(
            "div",
            { class: "top-lists" },
            topList(S.slowest, rows, (r) => r.run_ms.p95, (r) => fmtMs(r.run_ms.p95), (r) => r.task, (r) => taskHref(r.task), "slowest"),
            topList(S.mostFailing, rows, (r) => r.failed, (r) => S.failedShare(fmtInt(r.failed), (failureShare(r) * 100).toFixed(1)), (r) => r.task, (r) => taskHref(r.task), "failing"),
          ),
      h("h2", null, S.tasks),
      totalsTable(rows, (r) => r.task, (r) => taskHref(r.task), S.task),
    );
  }

  function renderSystem(body) {
    replace(sub, S.onePointPerSummed(S.range[range], stepLabel(body.step_s)));
    const rows = body.queues.filter((q) => q.succeeded || q.failed);
    replace(
      holder,
      historyCharts(body),
      h("h2", null, S.queues),
      rows.length
        ? totalsTable(rows, (r) => r.queue, (r) => queueMetricsHref(r.queue), S.queue)
        : h("p", { class: "empty" }, S.noAttempt(S.range[range])),
    );
  }

  async function load() {
    clearTimeout(timer);
    try {
      if (queue) renderQueue(await api.queueHistory(queue, range, task));
      else renderSystem(await api.history(range));
    } catch (err) {
      replace(holder, h("p", { class: "bad" }, err.status === 404 ? S.noQueueNamed(queue) : err.message));
    }
    timer = setTimeout(load, REFRESH_MS);
  }

  function update(next) {
    range = RANGES.includes(next.get("range")) ? next.get("range") : "1h";
    task = next.get("task") || null;
    picker.querySelectorAll("button").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.range === range)));
    load();
  }

  load();
  return { el, title: queue ? S.metricsOf(queue) : S.metrics, heading, update, dispose: () => clearTimeout(timer) };
}
