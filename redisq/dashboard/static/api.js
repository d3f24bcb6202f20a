// The admin API, relative to the mount. This file is served at M/_static/api.js, so "../" is M/ whatever
// the prefix is: /queues/, /ops/queues/, or a path a proxy adds in front.

import { S } from "./strings.js";

export const BASE = new URL("../", import.meta.url);

const enc = encodeURIComponent;

export function url(path) {
  return new URL(path, BASE);
}

export class ApiError extends Error {
  constructor(status, detail, code) {
    super(detail);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, params, body) {
  const target = url(path);
  if (params) {
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null && v !== "") target.searchParams.set(k, String(v));
    }
  }
  const headers = { Accept: "application/json" };
  if (method !== "GET") headers["Content-Type"] = "application/json";
  let response;
  try {
    const sent = body === undefined ? undefined : JSON.stringify(body);
    response = await fetch(target, { method, headers, body: sent, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, S.unreachable, "network");
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch (err) {
    answer = null;
  }
  if (!response.ok) {
    const detail = answer && typeof answer.detail === "string" ? answer.detail : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail, answer && answer.error);
  }
  return answer;
}

export const jobPath = (queue, uid) => `${enc(queue)}/jobs/${enc(uid)}`;

export const api = {
  me: () => request("GET", "_me"),
  workflow: (id) => request("GET", `_workflows/${enc(id)}`),
  redis: () => request("GET", "_redis"),
  history: (range) => request("GET", "_history", { range }),
  queueHistory: (queue, range, task) => request("GET", `${enc(queue)}/history`, { range, task }),
  queues: () => request("GET", ""),
  // state, offset, limit, order, and the filters (issue 17): task, q, request_id, error, since, until
  jobs: (queue, params) => request("GET", `${enc(queue)}/jobs`, params),
  job: (queue, uid) => request("GET", jobPath(queue, uid)),
  jobAction: (queue, uid, action) =>
    action === "delete"
      ? request("DELETE", jobPath(queue, uid))
      : request("POST", `${jobPath(queue, uid)}/${action}`),
  // A dead job again with new arguments, `{args, kwargs}` (issue 17): a 422 or 413 says why they do not
  // fit, and then nothing changed.
  retryWith: (queue, uid, body) => request("POST", `${jobPath(queue, uid)}/retry`, null, body),
  requeueDead: (queue) => request("POST", `${enc(queue)}/dead/requeue`),
  // One batch of a bulk action (issue 17): {action, ids} or {action, filter, cursor, dry_run}.
  bulk: (queue, body) => request("POST", `${enc(queue)}/bulk`, null, body),
  purge: (queue, state) => request("DELETE", `${enc(queue)}/jobs`, { state }),
  pause: (queue, paused) => request("POST", `${enc(queue)}/${paused ? "pause" : "resume"}`),
  schedules: () => request("GET", "_schedules"),
  scheduleAction: (id, action) =>
    action === "delete"
      ? request("DELETE", `_schedules/${enc(id)}`)
      : request("POST", `_schedules/${enc(id)}/${action}`),
};

export const eventsUrl = () => url("_events");
export const jobEventsUrl = (queue, uid) => url(`${jobPath(queue, uid)}/events`);
