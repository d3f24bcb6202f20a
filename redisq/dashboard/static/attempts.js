// A job's attempts (issue 17): a row per attempt kept, oldest first, the latest included: where it ran,
// when, for how long, how it ended and why (the error's type and first line; the latest attempt's whole
// traceback is in the error card above).

import { fmtDuration, h, runningFor, timeBoth } from "./dom.js";

const OUTCOME = {
  // [badge text, what it means, for its title]
  failed: ["failed", "it raised, and the job was retried"],
  lost: ["lost", "its worker stopped renewing its lease (it died or lost Redis); the job was taken back"],
  dead: ["dead", "it ended the job dead"],
  succeeded: ["succeeded", "it returned"],
  aborted: ["aborted", "it was stopped on its worker"],
  running: ["running", "it runs now"],
};

function outcomeBadge(outcome) {
  const [text, meaning] = OUTCOME[outcome] || [outcome, ""];
  return h("span", { class: `badge state-${String(outcome).replace(/[^a-z]/g, "")}`, title: meaning }, text);
}

function duration(attempt) {
  if (attempt.outcome === "running") return runningFor(attempt.started_at) || h("span", { class: "muted" }, "–");
  if (typeof attempt.duration_s !== "number") return h("span", { class: "muted" }, "–");
  const text = fmtDuration(attempt.duration_s);
  return attempt.outcome === "lost" ? h("span", { title: "until the sweeper found its lease lapsed" }, `≤ ${text}`) : text;
}

function errorCell(attempt) {
  if (!attempt.error_type && !attempt.error_message) return h("span", { class: "muted" }, "–");
  const text = [attempt.error_type, attempt.error_message].filter(Boolean).join(": ");
  return h("span", { class: "error-text" }, text);
}

export function attemptTable(job) {
  const attempts = job.attempt_history || [];
  if (!attempts.length) {
    const why = job.state === "waiting" ? "It waits for the jobs it depends on." : "It has not started yet.";
    return h("p", { class: "muted" }, `No attempt yet. ${why}`);
  }
  const rows = attempts.map((a) =>
    h(
      "tr",
      { dataset: { attempt: String(a.attempt), outcome: a.outcome } },
      h("td", { "data-label": "Attempt", class: "num" }, String(a.attempt)),
      h("td", { "data-label": "Worker" }, a.worker ? h("span", { class: "mono worker-id id-cut", title: a.worker }, a.worker) : h("span", { class: "muted" }, "–")),
      h("td", { "data-label": "Started" }, timeBoth(a.started_at)),
      h("td", { "data-label": "Duration", class: "nowrap" }, duration(a)),
      h("td", { "data-label": "Outcome" }, outcomeBadge(a.outcome)),
      h("td", { "data-label": "Error", class: "details" }, errorCell(a)),
    ),
  );
  const headers = ["Attempt", "Worker", "Started", "Duration", "Outcome", "Error"];
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { class: "table table-cards attempts" },
      h("caption", { class: "visually-hidden" }, "Every attempt of this job, oldest first"),
      h("thead", null, h("tr", null, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, rows),
    ),
  );
}
