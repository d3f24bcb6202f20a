// The admin API, relative to the mount. This file is served at M/_static/api.js, so "../" is M/ whatever
// the prefix is: /queues/, /ops/queues/, or a path a proxy adds in front.

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

async function request(method, path, params) {
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
    response = await fetch(target, { method, headers, credentials: "same-origin", cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "The server cannot be reached. Check your connection and try again.", "network");
  }
  let body = null;
  try {
    body = await response.json();
  } catch (err) {
    body = null;
  }
  if (!response.ok) {
    const detail = body && typeof body.detail === "string" ? body.detail : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, detail, body && body.error);
  }
  return body;
}

export const jobPath = (queue, uid) => `${enc(queue)}/jobs/${enc(uid)}`;

export const api = {
  me: () => request("GET", "_me"),
  workflow: (id) => request("GET", `_workflows/${enc(id)}`),
  redis: () => request("GET", "_redis"),
  history: (range) => request("GET", "_history", { range }),
  queueHistory: (queue, range, task) => request("GET", `${enc(queue)}/history`, { range, task }),
  queues: () => request("GET", ""),
  jobs: (queue, { state, offset, limit, order }) =>
    request("GET", `${enc(queue)}/jobs`, { state, offset, limit, order }),
  job: (queue, uid) => request("GET", jobPath(queue, uid)),
  jobAction: (queue, uid, action) =>
    action === "delete"
      ? request("DELETE", jobPath(queue, uid))
      : request("POST", `${jobPath(queue, uid)}/${action}`),
  requeueDead: (queue) => request("POST", `${enc(queue)}/dead/requeue`),
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
