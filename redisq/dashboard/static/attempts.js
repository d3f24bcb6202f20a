// A job's attempts (issue 17): a row per attempt kept, oldest first, the latest included: where it ran,
// when, for how long, how it ended and why (the error's type and first line; the latest attempt's whole
// traceback is in the error card above).

import { fmtDuration, h, runningFor, timeBoth } from "./dom.js";
import { S } from "./strings.js";

// The badge shows the outcome as the server names it (as a job's state badge does), its title what it means.
function outcomeBadge(outcome) {
  const meaning = S.outcomeMeaning[outcome] || "";
  return h("span", { class: `badge state-${String(outcome).replace(/[^a-z]/g, "")}`, title: meaning }, outcome);
}

function duration(attempt) {
  if (attempt.outcome === "running") return runningFor(attempt.started_at) || h("span", { class: "muted" }, "–");
  if (typeof attempt.duration_s !== "number") return h("span", { class: "muted" }, "–");
  const text = fmtDuration(attempt.duration_s);
  return attempt.outcome === "lost" ? h("span", { title: S.lostWithin }, `≤ ${text}`) : text;
}

function errorCell(attempt) {
  if (!attempt.error_type && !attempt.error_message) return h("span", { class: "muted" }, "–");
  const text = [attempt.error_type, attempt.error_message].filter(Boolean).join(": ");
  return h("span", { class: "error-text" }, text);
}

export function attemptTable(job) {
  const attempts = job.attempt_history || [];
  if (!attempts.length) {
    const why = job.state === "waiting" ? S.waitsForDependencies : S.notStartedYet;
    return h("p", { class: "muted" }, S.noAttemptYet(why));
  }
  const rows = attempts.map((a) =>
    h(
      "tr",
      { dataset: { attempt: String(a.attempt), outcome: a.outcome } },
      h("td", { "data-label": S.attempt, class: "num" }, String(a.attempt)),
      h("td", { "data-label": S.worker }, a.worker ? h("span", { class: "mono worker-id id-cut", title: a.worker }, a.worker) : h("span", { class: "muted" }, "–")),
      h("td", { "data-label": S.started }, timeBoth(a.started_at)),
      h("td", { "data-label": S.duration, class: "nowrap" }, duration(a)),
      h("td", { "data-label": S.outcome }, outcomeBadge(a.outcome)),
      h("td", { "data-label": S.error, class: "details" }, errorCell(a)),
    ),
  );
  const headers = [S.attempt, S.worker, S.started, S.duration, S.outcome, S.error];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table table-cards attempts" },
      h("caption", { class: "visually-hidden" }, S.everyAttempt),
      h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows),
    ),
  );
}
