// One job: its arguments, outcome, attempts and timeline, live over the job's own event stream.

import { api, jobEventsUrl } from "./api.js";
import { attemptTable } from "./attempts.js";
import {
  confirmDialog,
  copyButton,
  fmtDuration,
  fmtInt,
  h,
  jsonBlock,
  queueHref,
  replace,
  stateBadge,
  timeBoth,
  toMillis,
  toast,
} from "./dom.js";
import { editAndRetry } from "./editor.js";
import { JobStream } from "./live.js";

const shorten = (text, n) => (String(text).length > n ? `${String(text).slice(0, n)}… (the traceback has it all)` : String(text));

const FINAL = new Set(["succeeded", "dead", "cancelled", "expired", "aborted"]);

function allowedActions(job) {
  const out = [];
  if (job.state === "dead" || (job.state === "scheduled" && job.attempts > 0)) out.push(["retry", "Retry", "btn-primary"]);
  if (job.state === "dead") out.push(["edit", "Edit and retry…", ""]);
  if (job.state === "scheduled") out.push(["promote", "Run now", ""]);
  if (job.state === "queued" || job.state === "scheduled" || job.state === "waiting") out.push(["cancel", "Cancel", ""]);
  if (job.state === "active") out.push(["abort", "Abort…", "btn-danger-soft"]);
  if (job.state !== "active") out.push(["delete", "Delete…", "btn-danger-soft"]);
  return out;
}

/** A traceback to read: monospace, collapsible (open at first), the exception that ends it stressed (its
 * lines after the last indented one, the frames' source), with a button that copies it whole. */
function tracebackBlock(text) {
  if (!text) return null;
  const lines = text.replace(/\s+$/, "").split("\n");
  let start = lines.length - 1;
  for (let i = lines.length - 1; i >= 0; i--) {
    if (/^\s/.test(lines[i])) {
      start = Math.min(i + 1, lines.length - 1);
      break;
    }
  }
  const frames = lines.slice(0, start);
  const pre = h(
    "pre",
    { class: "code traceback", tabindex: "0", "aria-label": "Traceback" },
    frames.length ? `${frames.join("\n")}\n` : "",
    h("strong", { class: "traceback-last" }, lines.slice(start).join("\n")),
  );
  const details = h(
    "details",
    { class: "traceback-details", open: true },
    h("summary", null, "Traceback ", h("span", { class: "muted" }, `${lines.length} lines`)),
    pre,
  );
  return h("div", { class: "traceback-box" }, details, copyButton(() => text, "traceback", pre));
}

function timeline(job) {
  const at = (key) => toMillis(job[key]);
  const steps = [];
  const step = (label, key, note, kind) => {
    if (at(key) === null) return;
    steps.push(
      h(
        "li",
        { class: `step step-${kind || "done"}` },
        h("span", { class: "step-label" }, label),
        " ",
        timeBoth(job[key]),
        note ? h("span", { class: "step-note" }, note) : null,
      ),
    );
  };
  step("Enqueued", "enqueued_at");
  if (job.state === "scheduled") step("Due", "due_at", null, "pending");
  const waited = at("started_at") !== null && at("enqueued_at") !== null ? (at("started_at") - at("enqueued_at")) / 1000 : null;
  step(job.attempts > 1 ? `Started (attempt ${job.attempts})` : "Started", "started_at", waited !== null ? `after ${fmtDuration(waited)}` : null);
  const ran = at("finished_at") !== null && at("started_at") !== null ? (at("finished_at") - at("started_at")) / 1000 : null;
  const finishLabel = { succeeded: "Succeeded", dead: "Died", cancelled: "Cancelled", expired: "Expired", aborted: "Aborted" }[job.state] || "Finished";
  step(finishLabel, "finished_at", ran !== null && ran >= 0 ? `ran ${fmtDuration(ran)}` : null, job.state === "dead" ? "bad" : "done");
  if (!FINAL.has(job.state)) step("Expires if not started", "expires_at", null, "pending");
  if (job.state === "active") steps.push(h("li", { class: "step step-pending" }, h("span", { class: "step-label" }, "Running…")));
  return steps.length ? h("ol", { class: "timeline" }, steps) : h("p", { class: "muted" }, "No times recorded.");
}

function facts(job) {
  const rows = [
    ["State", stateBadge(job.state)],
    ["Queue", h("a", { href: queueHref(job.queue) }, job.queue)],
    ["Task", h("span", { class: "mono" }, job.task)],
    ["Attempts", `${fmtInt(job.attempts)} of ${fmtInt(job.max_attempts)}`],
    ["Priority", fmtInt(job.priority)],
    ["Recovered", job.recovered ? `${fmtInt(job.recovered)} time${job.recovered === 1 ? "" : "s"} (a worker's lease ran out)` : "never"],
    ["Worker", job.worker ? h("span", { class: "mono" }, job.worker) : h("span", { class: "muted" }, "–")],
    ["Request id", job.request_id ? h("span", { class: "mono", "data-field": "request-id" }, job.request_id) : h("span", { class: "muted" }, "–")],
    ["Trace", job.traceparent ? h("span", { class: "mono small" }, job.traceparent) : h("span", { class: "muted" }, "–")],
    ["Workflow", job.workflow ? h("a", { href: `#/workflows/${encodeURIComponent(job.workflow)}`, class: "mono", "data-field": "workflow" }, job.workflow) : h("span", { class: "muted" }, "–")],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
}

export function jobPage(ctx, queue, uid) {
  let job = null;
  let stream = null;
  let shownArgs = null;
  let shownOutcome = null;
  let shownAttempts = null;

  const heading = h("h1", { tabindex: "-1" }, "Job");
  const idLine = h("p", { class: "job-id mono" }, `${queue}:${uid}`);
  const liveNote = h("span", { class: "live-note", role: "status" }, "");
  const actions = h("div", { class: "actions", role: "group", "aria-label": "Job actions" });
  const progressBar = h("progress", { id: "job-progress", max: "1" });
  const progressText = h("span", { class: "progress-text" }, "");
  const progress = h(
    "div",
    { class: "card progress-card", hidden: true },
    h("label", { for: "job-progress" }, "Progress"),
    progressBar,
    progressText,
  );
  const times = h("div", { class: "card-body" });
  const details = h("div", { class: "card-body" });
  const argsBody = h("div", { class: "card-body" });
  const attemptsBody = h("div", { class: "card-body" });
  const outcome = h("section", { class: "card", hidden: true, "aria-labelledby": "outcome-title" });
  const message = h("div", { class: "notice", hidden: true, role: "alert" });
  const crumbs = h(
    "nav",
    { class: "crumbs", "aria-label": "Breadcrumb" },
    h("a", { href: "#/" }, "Overview"),
    " / ",
    h("a", { href: queueHref(queue) }, queue),
    " / ",
    h("span", { class: "mono" }, uid),
  );

  const el = h(
    "section",
    { class: "page page-job" },
    crumbs,
    h("div", { class: "page-head" }, h("div", null, h("div", { class: "title-row" }, heading, liveNote), idLine), ctx.admin ? actions : null),
    message,
    progress,
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card", "aria-labelledby": "times-title" }, h("h2", { id: "times-title" }, "Timeline"), times),
      h("section", { class: "card", "aria-labelledby": "facts-title" }, h("h2", { id: "facts-title" }, "Details"), details),
    ),
    outcome,
    h("section", { class: "card", "aria-labelledby": "attempts-title" }, h("h2", { id: "attempts-title" }, "Attempts"), attemptsBody),
    h("section", { class: "card", "aria-labelledby": "args-title" }, h("h2", { id: "args-title" }, "Arguments"), argsBody),
  );

  function renderActions() {
    if (!ctx.admin || !job) return;
    const focused = document.activeElement && actions.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    replace(
      actions,
      allowedActions(job).map(([name, label, style]) => {
        const button = h("button", { type: "button", class: `btn ${style}`, "data-action": name }, label);
        button.addEventListener("click", () => act(name, button));
        return button;
      }),
    );
    if (focused) {
      const again = actions.querySelector(`[data-action="${focused}"]`);
      if (again) again.focus();
    }
  }

  async function act(name, button) {
    if (name === "edit") {
      if (await editAndRetry(job)) {
        toast("Sent back to the queue with the new arguments.");
        await reload();
        follow();
      } else {
        button.focus(); // back where the dialog was opened from
      }
      return;
    }
    if (name === "delete") {
      const ok = await confirmDialog({
        title: "Delete this job?",
        text: `${queue}:${uid} and its record will be deleted. This cannot be undone.`,
        confirm: "Delete job",
      });
      if (!ok) return;
    }
    if (name === "abort") {
      const ok = await confirmDialog({
        title: "Abort this running job?",
        text: `${queue}:${uid} will be stopped on its worker and end "aborted", without a retry.`,
        confirm: "Abort job",
      });
      if (!ok) return;
    }
    button.disabled = true;
    try {
      await api.jobAction(queue, uid, name);
      if (name === "delete") {
        toast(`Job ${uid} deleted.`);
        location.hash = queueHref(queue);
        return;
      }
      toast({ retry: "Sent back to the queue.", promote: "Runs now.", cancel: "Cancelled.", abort: "Abort sent to its worker." }[name]);
      await reload();
      follow();
    } catch (err) {
      toast(err.message, "error");
      button.disabled = false;
    }
  }

  function render(next) {
    job = next;
    message.hidden = true;
    heading.textContent = job.task;
    document.title = `${job.task} · ${job.state} · redisq`;
    replace(times, timeline(job));
    replace(details, facts(job));
    renderActions();

    const p = job.progress;
    const showProgress = Boolean(p) && (job.state === "active" || typeof p.value === "number");
    progress.hidden = !showProgress;
    if (showProgress) {
      const value = typeof p.value === "number" ? Math.max(0, Math.min(1, p.value)) : null;
      if (value === null) progressBar.removeAttribute("value");
      else progressBar.value = value;
      progressText.textContent = [value === null ? null : `${Math.round(value * 100)}%`, p.note].filter(Boolean).join(" · ");
    }

    const attemptsKey = JSON.stringify(job.attempt_history);
    if (attemptsKey !== shownAttempts) {
      shownAttempts = attemptsKey;
      replace(attemptsBody, attemptTable(job));
    }

    const argsKey = JSON.stringify([job.args, job.kwargs]);
    if (argsKey !== shownArgs) {
      shownArgs = argsKey;
      const hasKwargs = job.kwargs && Object.keys(job.kwargs).length;
      replace(
        argsBody,
        h("h3", null, "Positional"),
        jsonBlock(job.args, "Positional arguments"),
        hasKwargs ? [h("h3", null, "Keyword"), jsonBlock(job.kwargs, "Keyword arguments")] : null,
      );
    }

    const outcomeKey = JSON.stringify([job.state, job.result, job.error]);
    if (outcomeKey !== shownOutcome) {
      shownOutcome = outcomeKey;
      if (job.state === "succeeded") {
        outcome.hidden = false;
        outcome.classList.remove("card-error");
        replace(
          outcome,
          h("h2", { id: "outcome-title" }, "Result"),
          jsonBlock(job.result, "Result"),
          job.error
            ? h(
                "details",
                { class: "earlier" },
                h("summary", null, "An earlier attempt failed: ", h("strong", null, job.error.type), ": ", shorten(job.error.message, 200)),
                tracebackBlock(job.error.traceback),
              )
            : null,
        );
      } else if (job.error) {
        outcome.hidden = false;
        outcome.classList.add("card-error");
        replace(
          outcome,
          h("h2", { id: "outcome-title" }, { dead: "Error", aborted: "Aborted" }[job.state] || "Last error"),
          h("p", { class: "error-line" }, h("strong", null, job.error.type), ": ", shorten(job.error.message, 600)),
          job.error.note ? h("p", { class: "error-note" }, job.error.note) : null,
          tracebackBlock(job.error.traceback),
        );
      } else {
        outcome.hidden = true;
      }
    }
  }

  async function reload() {
    try {
      render(await api.job(queue, uid));
      return FINAL.has(job.state);
    } catch (err) {
      message.hidden = false;
      message.textContent = err.status === 404 ? `No job ${uid} in ${queue}: it never existed, or its record expired or was deleted.` : err.message;
      return err.status === 404;
    }
  }

  function follow() {
    if (stream) stream.stop();
    liveNote.textContent = "";
    if (job && FINAL.has(job.state)) return;
    liveNote.textContent = "live";
    stream = new JobStream(jobEventsUrl(queue, uid), {
      onJob: render,
      onEnd: () => {
        liveNote.textContent = "";
      },
      poll: reload,
    });
    stream.start();
  }

  reload().then(follow);

  return {
    el,
    title: `${uid} · job`,
    heading,
    dispose() {
      if (stream) stream.stop();
    },
  };
}
