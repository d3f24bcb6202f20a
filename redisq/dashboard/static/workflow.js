// One workflow (issue 16): its steps in columns by depth (a step sits right of every step it waits for),
// each with its state, the steps it waits for (and the policy for their failure when it is not "fail"),
// and a link to its job. Admins retry a failed step (the steps after it go on once it succeeds) or
// cancel the steps that have not started. Read from GET M/_workflows/<id> when the page opens, every
// couple of seconds while it is open, and after an action.

import { api } from "./api.js";
import { h, jobHref, replace, runAction, splitJobId, stateBadge, timeAgo } from "./dom.js";
import { S } from "./strings.js";

const REFRESH_MS = 1500;
const NOT_STARTED = new Set(["queued", "scheduled", "waiting"]);

function depths(steps) {
  const index = new Map(steps.map((s, i) => [s.job_id, i]));
  const depth = steps.map(() => 0);
  steps.forEach((s, i) => {
    for (const d of s.depends_on) {
      const j = index.get(d.job_id);
      if (j !== undefined && j < i) depth[i] = Math.max(depth[i], depth[j] + 1);
    }
  });
  return { index, depth };
}

export function workflowPage(ctx, id) {
  const heading = h("h1", { tabindex: "-1" }, S.workflow);
  const idLine = h("p", { class: "job-id mono" }, id);
  const lede = h("p", { class: "lede", role: "status" }, S.loading);
  const board = h("div", { class: "workflow-board", "aria-label": S.stepsByStage });
  const el = h("section", { class: "page page-workflow" }, heading, idLine, lede, board);
  let timer = null;
  let busy = false;
  let lastKey = null;

  function act(button, work, message) {
    busy = true;
    return runAction(button, work, () => message, () => {
      busy = false;
      lastKey = null;
      load();
    });
  }

  function stepCard(s, n, index) {
    const { queue, uid } = splitJobId(s.job_id);
    const waits = s.depends_on.map((d) => {
      const j = index.get(d.job_id);
      const name = j === undefined ? d.job_id : `#${j + 1}`;
      const label = d.on_failure === "fail" ? name : `${name} (${d.on_failure})`;
      return j === undefined ? h("span", { class: "mono small" }, label) : h("a", { href: `#step-${j + 1}` }, label);
    });
    const buttons = [];
    if (ctx.canAdmin(queue) && s.state === "dead" && s.error_type !== "DependencyFailed") {
      const retry = h("button", { type: "button", class: "btn btn-small btn-primary", "data-action": "retry", "aria-label": S.retryStep(n) }, S.retry);
      retry.addEventListener("click", () => act(retry, () => api.jobAction(queue, uid, "retry"), S.stepRetried(n)));
      buttons.push(retry);
    }
    if (ctx.canAdmin(queue) && NOT_STARTED.has(s.state)) {
      const cancel = h("button", { type: "button", class: "btn btn-small", "data-action": "cancel", "aria-label": S.cancelStep(n) }, S.cancel);
      cancel.addEventListener("click", () => act(cancel, () => api.jobAction(queue, uid, "cancel"), S.stepCancelled(n)));
      buttons.push(cancel);
    }
    return h(
      "li",
      { class: `card workflow-step step-${s.state || "gone"}`, id: `step-${n}`, dataset: { step: String(n), state: s.state || "gone" } },
      h("div", { class: "workflow-step-head" }, h("span", { class: "strong" }, `#${n} `, h("span", { class: "mono small" }, s.task)), s.state ? stateBadge(s.state) : h("span", { class: "badge" }, S.expiredWord)),
      s.error_type ? h("p", { class: "small bad" }, s.error_type) : null,
      waits.length ? h("p", { class: "small muted" }, S.afterSteps, waits.flatMap((w, i) => (i ? [", ", w] : [w]))) : null,
      h("p", { class: "small" }, S.jobBefore, h("a", { href: jobHref(queue, uid), class: "mono", title: s.job_id, "aria-label": S.jobOfStep(n) }, uid), h("span", { class: "muted" }, " ", S.inQueue(queue))),
      buttons.length ? h("div", { class: "actions", role: "group", "aria-label": S.actionsFor(S.stepName(n)) }, buttons) : null,
    );
  }

  function render(wf) {
    const { index, depth } = depths(wf.steps);
    const stages = [];
    wf.steps.forEach((s, i) => {
      (stages[depth[i]] ||= []).push(stepCard(s, i + 1, index));
    });
    const done = wf.steps.filter((s) => s.state === "succeeded").length;
    replace(lede, stateBadge(wf.state), S.stepsSucceeded(done, wf.steps.length), timeAgo(wf.created_at));
    replace(
      board,
      ...stages.map((cards, i) => h("ol", { class: "workflow-stage", "aria-label": S.stage(i + 1) }, cards)),
    );
  }

  async function load() {
    if (busy) return;
    try {
      const wf = await api.workflow(id);
      const key = JSON.stringify(wf);
      if (key === lastKey) return; // unchanged: a focused button keeps its focus
      lastKey = key;
      render(wf);
    } catch (err) {
      replace(lede, err.status === 404 ? S.noWorkflow : err.message);
      replace(board);
    }
  }

  load();
  timer = setInterval(load, REFRESH_MS);
  return { el, title: S.workflowTitle(id), heading, dispose: () => clearInterval(timer) };
}
