// Overview: every queue's numbers and its last hour, updated in place from each snapshot, in the order
// chosen (what needs attention first, by default); above them, every queue over time (metrics.js).

import { historyChart } from "./chart.js";
import { fmtDuration, fmtInt, fmtRate, h, queueHref, replace, setText } from "./dom.js";
import { noQueues } from "./empty.js";
import { metricsHref, systemPanel } from "./metrics.js";
import { S } from "./strings.js";

const COUNTS = [
  // [key (its class: count-<key>), label, how to read it from a queue, the state it links to]
  ["queued", S.queued, (q) => q.queued, "queued"],
  ["scheduled", S.scheduled, (q) => q.scheduled, "scheduled"],
  ["active", S.active, (q) => q.active, "active"],
  ["succeeded", S.succeeded, (q) => (q.counters || {}).succeeded, "succeeded"],
  ["failed", S.failed, (q) => (q.counters || {}).failed, null],
  ["dead", S.dead, (q) => q.dead, "dead"],
];

const SUMMARY = [
  ["queues", S.queues],
  ["workers", S.workersAlive],
  ["queued", S.queued],
  ["active", S.active],
  ["rate", S.donePerMinute],
  ["dead", S.dead],
];

function workersOn(snapshot, queue) {
  return (snapshot.workers || []).filter((w) => (w.queues || []).includes(queue)).length;
}

// What needs attention first: failing now, then dead letters, then work that no worker serves, then the
// longest wait, then the largest backlog. Each is a number, compared in this order, biggest first.
function attention(q, snapshot) {
  const backlog = (q.queued || 0) + (q.scheduled || 0);
  const unserved = backlog + (q.active || 0) > 0 && workersOn(snapshot, q.queue) === 0 ? 1 : 0;
  return [q.failures_per_minute || 0, q.dead || 0, unserved, q.oldest_queued_age_s || 0, backlog];
}

function needsAttention(q, snapshot) {
  const [failing, dead, unserved] = attention(q, snapshot);
  return failing > 0 || dead > 0 || unserved > 0;
}

// The queues in the order chosen; each queue's attention figures are computed once per snapshot.
function ordered(queues, order, snapshot) {
  const byName = (a, b) => a.queue.localeCompare(b.queue);
  if (order !== "attention") return [...queues].sort(byName);
  const keys = new Map(queues.map((q) => [q.queue, attention(q, snapshot)]));
  return [...queues].sort((a, b) => {
    const x = keys.get(a.queue);
    const y = keys.get(b.queue);
    for (let i = 0; i < x.length; i += 1) if (x[i] !== y[i]) return y[i] - x[i];
    return byName(a, b);
  });
}

function queueCard(name) {
  const title = h("a", { href: queueHref(name) }, name);
  const paused = h("span", { class: "badge badge-paused", hidden: true }, S.paused);
  const counts = {};
  const items = COUNTS.map(([key, label, , state]) => {
    const value = h("span", { class: "count-value" }, "–");
    counts[key] = value;
    const body = state
      ? h("a", { href: queueHref(name, { state }), "aria-label": S.jobsIn(label, name) }, value)
      : value;
    return h("div", { class: `count count-${key}` }, h("dt", null, label), h("dd", null, body));
  });
  const rate = h("span", null, "–");
  const failRate = h("span", null, "–");
  const oldest = h("span", null, "–");
  const workers = h("span", null, "–");
  // What an autoscaler would run for this queue (core/autoscale.py: backlog, throughput, concurrency).
  const desired = h("span", { class: "desired-value" }, "–");
  const chart = historyChart();
  const el = h(
    "article",
    { class: "card queue-card", dataset: { queue: name } },
    h("header", { class: "card-head" }, h("h2", null, title), paused, h("a", { class: "card-links", href: metricsHref(name) }, S.cardMetrics)),
    h("dl", { class: "counts" }, items),
    h(
      "p",
      { class: "rates" },
      h("span", { class: "rate" }, rate, S.doneMin),
      h("span", { class: "rate rate-failed" }, failRate, S.failedMin),
      h("span", { class: "rate" }, S.oldestWaiting, oldest),
      h("span", { class: "rate rate-desired", title: S.desiredTitle }, S.desired, desired),
      h("span", { class: "rate" }, workers),
    ),
    chart.el,
  );

  function update(q, snapshot) {
    paused.hidden = !q.paused;
    el.classList.toggle("needs-attention", needsAttention(q, snapshot));
    el.classList.toggle("is-paused", Boolean(q.paused));
    COUNTS.forEach(([key, , read]) => setText(counts[key], fmtInt(read(q))));
    counts.dead.parentElement.classList.toggle("has-dead", q.dead > 0);
    setText(rate, fmtRate(q.throughput_per_minute));
    setText(failRate, fmtRate(q.failures_per_minute));
    failRate.parentElement.classList.toggle("is-bad", q.failures_per_minute > 0);
    setText(oldest, q.oldest_queued_age_s === null || q.oldest_queued_age_s === undefined ? "–" : fmtDuration(q.oldest_queued_age_s));
    const n = workersOn(snapshot, q.queue);
    setText(workers, S.workerCount(n));
    workers.parentElement.classList.toggle("is-bad", n === 0 && q.queued + q.scheduled + q.active > 0);
    setText(desired, q.desired_workers === undefined ? "–" : fmtInt(q.desired_workers));
    desired.parentElement.classList.toggle("is-bad", q.desired_workers > n);
    chart.update(q.history);
  }

  return { el, update };
}

export function overviewPage(ctx) {
  const summaryValues = {};
  const summary = h(
    "dl",
    { class: "summary" },
    SUMMARY.map(([key, label]) => {
      summaryValues[key] = h("span", null, "–");
      return h("div", { class: "summary-item" }, h("dt", null, label), h("dd", null, summaryValues[key]));
    }),
  );
  const cards = h("div", { class: "cards" }, h("p", { class: "empty" }, S.firstUpdate));
  const heading = h("h1", { tabindex: "-1" }, S.overview);
  const system = systemPanel();
  let order = "attention";
  let last = null;
  const orderSelect = h(
    "select",
    {
      id: "queue-order",
      onchange: (event) => {
        order = event.target.value;
        if (last) render(last);
      },
    },
    h("option", { value: "attention" }, S.byAttention),
    h("option", { value: "name" }, S.byName),
  );
  const tools = h("div", { class: "overview-tools" }, h("label", { for: "queue-order" }, S.sortQueuesBy), orderSelect);
  const el = h("section", { class: "page page-overview" }, heading, summary, system.el, tools, cards);
  const byQueue = new Map();

  function render(snapshot) {
    last = snapshot;
    const queues = ordered(snapshot.queues || [], order, snapshot);
    const total = (key) => queues.reduce((n, q) => n + (Number(q[key]) || 0), 0);
    setText(summaryValues.queues, fmtInt(queues.length));
    setText(summaryValues.workers, fmtInt((snapshot.workers || []).length));
    setText(summaryValues.queued, fmtInt(total("queued")));
    setText(summaryValues.active, fmtInt(total("active")));
    setText(summaryValues.rate, fmtRate(total("throughput_per_minute")));
    setText(summaryValues.dead, fmtInt(total("dead")));
    summaryValues.dead.closest(".summary-item").classList.toggle("has-dead", total("dead") > 0);

    if (!queues.length) {
      byQueue.clear();
      replace(cards, noQueues(snapshot.redis_ok));
      return;
    }
    const names = new Set(queues.map((q) => q.queue));
    if (!byQueue.size) replace(cards);
    for (const [name, card] of byQueue) {
      if (!names.has(name)) {
        card.el.remove();
        byQueue.delete(name);
      }
    }
    // Keep the cards in the snapshot's order; move only what is out of place so focus stays put.
    let previous = null;
    for (const q of queues) {
      let card = byQueue.get(q.queue);
      if (!card) {
        card = queueCard(q.queue);
        byQueue.set(q.queue, card);
      }
      const wanted = previous ? previous.nextSibling : cards.firstChild;
      if (wanted !== card.el) cards.insertBefore(card.el, wanted);
      card.update(q, snapshot);
      previous = card.el;
    }
  }

  const unsubscribe = ctx.live.subscribe(render);
  const dispose = () => {
    unsubscribe();
    system.dispose();
  };
  return { el, title: S.overview, heading, dispose };
}
