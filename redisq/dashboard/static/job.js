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
import { S } from "./strings.js";

const shorten = (text, n) => (String(text).length > n ? `${String(text).slice(0, n)}${S.tracebackHasAll}` : String(text));

const FINAL = new Set(["succeeded", "dead", "cancelled", "expired", "aborted"]);

function allowedActions(job) {
  const out = [];
  if (job.state === "dead" || (job.state === "scheduled" && job.attempts > 0)) out.push(["retry", S.retry, "btn-primary"]);
  if (job.state === "dead") out.push(["edit", S.editAndRetryAsk, ""]);
  if (job.state === "scheduled") out.push(["promote", S.runNow, ""]);
  if (job.state === "queued" || job.state === "scheduled" || job.state === "waiting") out.push(["cancel", S.cancel, ""]);
  if (job.state === "active") out.push(["abort", S.abortAsk, "btn-danger-soft"]);
  if (job.state !== "active") out.push(["delete", S.deleteAsk, "btn-danger-soft"]);
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
    { class: "code traceback", tabindex: "0", "aria-label": S.traceback },
    frames.length ? `${frames.join("\n")}\n` : "",
    h("strong", { class: "traceback-last" }, lines.slice(start).join("\n")),
  );
  const details = h(
    "details",
    { class: "traceback-details", open: true },
    h("summary", null, S.traceback, " ", h("span", { class: "muted" }, S.tracebackLines(lines.length))),
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
  step(S.enqueued, "enqueued_at");
  if (job.state === "scheduled") step(S.due, "due_at", null, "pending");
  const waited = at("started_at") !== null && at("enqueued_at") !== null ? (at("started_at") - at("enqueued_at")) / 1000 : null;
  step(job.attempts > 1 ? S.startedAttempt(job.attempts) : S.started, "started_at", waited !== null ? S.after(fmtDuration(waited)) : null);
  const ran = at("finished_at") !== null && at("started_at") !== null ? (at("finished_at") - at("started_at")) / 1000 : null;
  const finishLabel = { succeeded: S.succeeded, dead: S.died, cancelled: S.cancelled, expired: S.expired, aborted: S.aborted }[job.state] || S.finished;
  step(finishLabel, "finished_at", ran !== null && ran >= 0 ? S.ran(fmtDuration(ran)) : null, job.state === "dead" ? "bad" : "done");
  if (!FINAL.has(job.state)) step(S.expiresIfNotStarted, "expires_at", null, "pending");
  if (job.state === "active") steps.push(h("li", { class: "step step-pending" }, h("span", { class: "step-label" }, S.runningNow)));
  return steps.length ? h("ol", { class: "timeline" }, steps) : h("p", { class: "muted" }, S.noTimes);
}

function facts(job) {
  const rows = [
    [S.state, stateBadge(job.state)],
    [S.queue, h("a", { href: queueHref(job.queue) }, job.queue)],
    [S.task, h("span", { class: "mono" }, job.task)],
    [S.attempts, S.attemptsOf(fmtInt(job.attempts), fmtInt(job.max_attempts))],
    [S.priorityHeading, fmtInt(job.priority)],
    [S.recovered, job.recovered ? S.recoveredTimes(job.recovered) : S.never],
    [S.worker, job.worker ? h("span", { class: "mono" }, job.worker) : h("span", { class: "muted" }, "–")],
    [S.requestId, job.request_id ? h("span", { class: "mono", "data-field": "request-id" }, job.request_id) : h("span", { class: "muted" }, "–")],
    [S.trace, job.traceparent ? h("span", { class: "mono small" }, job.traceparent) : h("span", { class: "muted" }, "–")],
    [S.workflow, job.workflow ? h("a", { href: `#/workflows/${encodeURIComponent(job.workflow)}`, class: "mono", "data-field": "workflow" }, job.workflow) : h("span", { class: "muted" }, "–")],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v))));
}

export function jobPage(ctx, queue, uid) {
  let job = null;
  let stream = null;
  let shownArgs = null;
  let shownOutcome = null;
  let shownAttempts = null;

  const heading = h("h1", { tabindex: "-1" }, S.job);
  const idLine = h("p", { class: "job-id mono" }, `${queue}:${uid}`);
  const liveNote = h("span", { class: "live-note", role: "status" }, "");
  const actions = h("div", { class: "actions", role: "group", "aria-label": S.jobActions });
  const progressBar = h("progress", { id: "job-progress", max: "1" });
  const progressText = h("span", { class: "progress-text" }, "");
  const progress = h(
    "div",
    { class: "card progress-card", hidden: true },
    h("label", { for: "job-progress" }, S.progress),
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
    { class: "crumbs", "aria-label": S.breadcrumb },
    h("a", { href: "#/" }, S.overview),
    " / ",
    h("a", { href: queueHref(queue) }, queue),
    " / ",
    h("span", { class: "mono" }, uid),
  );

  const el = h(
    "section",
    { class: "page page-job" },
    crumbs,
    h("div", { class: "page-head" }, h("div", null, h("div", { class: "title-row" }, heading, liveNote), idLine), ctx.canAdmin(queue) ? actions : null),
    message,
    progress,
    h(
      "div",
      { class: "grid-2" },
      h("section", { class: "card", "aria-labelledby": "times-title" }, h("h2", { id: "times-title" }, S.timeline), times),
      h("section", { class: "card", "aria-labelledby": "facts-title" }, h("h2", { id: "facts-title" }, S.details), details),
    ),
    outcome,
    h("section", { class: "card", "aria-labelledby": "attempts-title" }, h("h2", { id: "attempts-title" }, S.attempts), attemptsBody),
    h("section", { class: "card", "aria-labelledby": "args-title" }, h("h2", { id: "args-title" }, S.arguments), argsBody),
  );

  function renderActions() {
    if (!ctx.canAdmin(queue) || !job) return;
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
        toast(S.sentBackWithNew);
        await reload();
        follow();
      } else {
        button.focus(); // back where the dialog was opened from
      }
      return;
    }
    if (name === "delete") {
      const ok = await confirmDialog({ title: S.deleteJobTitle, text: S.deleteJobText(`${queue}:${uid}`), confirm: S.deleteJob });
      if (!ok) return;
    }
    if (name === "abort") {
      const ok = await confirmDialog({ title: S.abortJobTitle, text: S.abortJobText(`${queue}:${uid}`), confirm: S.abortJob });
      if (!ok) return;
    }
    button.disabled = true;
    try {
      await api.jobAction(queue, uid, name);
      if (name === "delete") {
        toast(S.jobDeleted(uid));
        location.hash = queueHref(queue);
        return;
      }
      toast(S.actionDone[name]);
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
    document.title = S.docTitle(`${job.task} · ${job.state}`);
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
        h("h3", null, S.positional),
        jsonBlock(job.args, S.positionalArguments),
        hasKwargs ? [h("h3", null, S.keyword), jsonBlock(job.kwargs, S.keywordArguments)] : null,
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
          h("h2", { id: "outcome-title" }, S.result),
          jsonBlock(job.result, S.result),
          job.error
            ? h(
                "details",
                { class: "earlier" },
                h("summary", null, S.earlierFailed, h("strong", null, job.error.type), ": ", shorten(job.error.message, 200)),
                tracebackBlock(job.error.traceback),
              )
            : null,
        );
      } else if (job.error) {
        outcome.hidden = false;
        outcome.classList.add("card-error");
        replace(
          outcome,
          h("h2", { id: "outcome-title" }, { dead: S.error, aborted: S.aborted }[job.state] || S.lastError),
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
      message.textContent = err.status === 404 ? S.noSuchJob(uid, queue) : err.message;
      return err.status === 404;
    }
  }

  function follow() {
    if (stream) stream.stop();
    liveNote.textContent = "";
    if (job && FINAL.has(job.state)) return;
    liveNote.textContent = S.liveNote;
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
    title: S.jobTitle(uid),
    heading,
    dispose() {
      if (stream) stream.stop();
    },
  };
}
