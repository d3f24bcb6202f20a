// The server's snapshot stream (M/_events), shared by every page: one EventSource for the whole app.
// The browser reconnects by itself after a dropped connection (sending Last-Event-ID); when the server
// answered with an error instead, EventSource gives up, so a new one is opened after a growing pause.
//
// While Redis is away (`redis_ok: false`) the figures are the last known ones, shown greyed: the server's
// (it keeps those of its last good poll), or, from a server that has none (it started during the outage:
// a restart, another process behind the balancer), the ones this page had (issue 11).

import { eventsUrl } from "./api.js";

export class SnapshotStream {
  constructor() {
    this.snapshot = null;
    this.good = null; // the last snapshot read while Redis answered
    this.status = "connecting"; // connecting | open | down
    this.failures = 0;
    this.listeners = new Set();
    this.statusListeners = new Set();
    this.source = null;
    this.retryTimer = null;
  }

  start() {
    this.open();
    window.addEventListener("online", () => this.reopenSoon(0));
  }

  open() {
    clearTimeout(this.retryTimer);
    if (this.source) this.source.close();
    const source = new EventSource(eventsUrl(), { withCredentials: true });
    this.source = source;
    source.addEventListener("open", () => {
      this.failures = 0;
      this.setStatus("open");
    });
    source.addEventListener("snapshot", (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      this.failures = 0;
      this.snapshot = this.lastKnown(data);
      this.setStatus("open");
      this.listeners.forEach((fn) => fn(this.snapshot));
    });
    source.addEventListener("error", () => {
      if (this.source !== source) return;
      this.failures += 1;
      this.setStatus("down");
      if (source.readyState === EventSource.CLOSED) this.reopenSoon();
    });
  }

  /** The snapshot to show: `data`, with the last known figures when Redis is away; `stale_at` says
   * when those were read, where this page knows it. */
  lastKnown(data) {
    if (data.redis_ok !== false) {
      this.good = data;
      return data;
    }
    const serverHasNone = !(data.queues || []).length && !(data.workers || []).length;
    const known = serverHasNone && this.good ? { queues: this.good.queues, workers: this.good.workers } : {};
    return { ...data, ...known, stale_at: this.good ? this.good.at : null };
  }

  reopenSoon(delay) {
    clearTimeout(this.retryTimer);
    const wait = delay !== undefined ? delay : Math.min(10000, 500 * 2 ** Math.min(this.failures, 5));
    this.retryTimer = setTimeout(() => this.open(), wait);
  }

  setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.statusListeners.forEach((fn) => fn(status));
  }

  /** Call `fn(snapshot)` now if one arrived already, and on every new one; returns the unsubscriber. */
  subscribe(fn) {
    this.listeners.add(fn);
    if (this.snapshot) fn(this.snapshot);
    return () => this.listeners.delete(fn);
  }

  onStatus(fn) {
    this.statusListeners.add(fn);
    fn(this.status);
    return () => this.statusListeners.delete(fn);
  }
}

/**
 * One job's stream (M/{queue}/jobs/{uid}/events): `job` events carry the job's JSON, `end` says it reached
 * a final state. Where the stream is unavailable, the job is read every two seconds instead.
 */
export class JobStream {
  constructor(url, { onJob, onEnd, poll }) {
    this.url = url;
    this.onJob = onJob;
    this.onEnd = onEnd;
    this.poll = poll;
    this.source = null;
    this.timer = null;
    this.closed = false;
  }

  start() {
    this.closed = false;
    const source = new EventSource(this.url, { withCredentials: true });
    this.source = source;
    let got = false;
    source.addEventListener("job", (event) => {
      got = true;
      try {
        this.onJob(JSON.parse(event.data));
      } catch (err) {
        /* a malformed event is skipped; the next one brings the whole job again */
      }
    });
    source.addEventListener("end", () => {
      this.stop();
      this.onEnd();
    });
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED && !this.closed) {
        this.source = null;
        // Refused outright (no such route, an error status): fall back to reading the job.
        this.schedulePoll(got ? 1000 : 0);
      }
    });
  }

  schedulePoll(delay) {
    clearTimeout(this.timer);
    this.timer = setTimeout(async () => {
      if (this.closed) return;
      const final = await this.poll();
      if (!this.closed && !final) this.schedulePoll(2000);
    }, delay);
  }

  stop() {
    this.closed = true;
    clearTimeout(this.timer);
    if (this.source) this.source.close();
    this.source = null;
  }
}
