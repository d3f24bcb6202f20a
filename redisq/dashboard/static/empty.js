// Empty states that say what the emptiness means and what to do next (issue 17): the short line first
// (`.empty`, as before), then the explanation.

import { BASE } from "./api.js";
import { h } from "./dom.js";

function emptyState(kind, line, ...explanation) {
  return h("div", { class: "empty-state", dataset: { empty: kind } }, h("p", { class: "empty" }, line), explanation);
}

/** The overview with no queue: how one comes to exist. */
export function noQueues(redisOk) {
  if (redisOk === false) {
    return emptyState("redis", "No figures yet: Redis is unreachable.", h("p", { class: "empty-hint" }, "The page keeps trying, and shows the queues as soon as Redis answers."));
  }
  const example = [
    '@rq.task(queue="emails")',
    "async def send_welcome(user_id: int) -> None: ...",
    "",
    "await send_welcome.enqueue(42)  # or send_welcome.delay(42) from sync code",
  ].join("\n");
  return emptyState(
    "queues",
    "No queues yet.",
    h("p", { class: "empty-hint" }, "A queue shows up here once a job is enqueued on it, or once a task of the app serving this page uses it. Enqueue one from your code:"),
    h("pre", { class: "code empty-code", tabindex: "0", "aria-label": "Enqueueing a job from Python" }, example),
    h(
      "p",
      { class: "empty-hint" },
      "or, as an admin, through this API: ",
      h("code", null, `POST ${BASE.pathname}<queue>/jobs`),
      " with ",
      h("code", null, '{"task": "<registered name>", "args": [...]}'),
      ".",
    ),
  );
}

const JOBS = {
  queued: "Nothing is waiting: the workers keep up (or nothing was enqueued lately).",
  scheduled: "No delayed job, and no failed job waiting for its next attempt.",
  active: "No worker runs a job of this queue right now.",
  succeeded: "Finished jobs are listed while their result is kept (an hour by default, the task's result_ttl).",
  dead: "Good news: no job has used up its attempts. Dead jobs are kept 7 days by default, to retry or inspect.",
  waiting: "No job waits for another one to end (workflows, depends_on).",
};

/** A queue's list of jobs in `state`, empty. */
export function noJobs(state) {
  return emptyState(state, `No ${state} jobs.`, JOBS[state] ? h("p", { class: "empty-hint" }, JOBS[state]) : null);
}
