// Empty states that say what the emptiness means and what to do next (issue 17): the short line first
// (`.empty`, as before), then the explanation.

import { BASE } from "./api.js";
import { h } from "./dom.js";
import { S } from "./strings.js";

function emptyState(kind, line, ...explanation) {
  return h("div", { class: "empty-state", dataset: { empty: kind } }, h("p", { class: "empty" }, line), explanation);
}

/** The overview with no queue: how one comes to exist. */
export function noQueues(redisOk) {
  if (redisOk === false) {
    return emptyState("redis", S.noFiguresRedisDown, h("p", { class: "empty-hint" }, S.noFiguresHint));
  }
  return emptyState(
    "queues",
    S.noQueues,
    h("p", { class: "empty-hint" }, S.noQueuesHint),
    h("pre", { class: "code empty-code", tabindex: "0", "aria-label": S.enqueueExampleLabel }, S.enqueueExample),
    h(
      "p",
      { class: "empty-hint" },
      S.enqueueByApi,
      h("code", null, S.enqueuePath(BASE.pathname)),
      S.enqueueWith,
      h("code", null, S.enqueueBody),
      ".",
    ),
  );
}

/** A queue's list of jobs in `state`, empty. */
export function noJobs(state) {
  const hint = S.noJobsHint[state];
  return emptyState(state, S.noJobs(state), hint ? h("p", { class: "empty-hint" }, hint) : null);
}
