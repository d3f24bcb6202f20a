// What the no-op job calls in a BullMQ worker: record(index, enqueuedAt), the same as peers/record.py,
// which is the reference (read it first). Process-local memory only; a timer flushes every FLUSH_S with
// one pipeline: INCRBY runs, SADD seen <indices>, RPUSH latency <samples>, RPUSH first / last <times>.
// The key names and FLUSH_S come from the harness (BENCH_OBS_KEYS, JSON), so both sides cannot disagree.
'use strict';

const { Redis } = require('ioredis');

const KEYS = JSON.parse(process.env.BENCH_OBS_KEYS);

// Seconds since the epoch with sub-millisecond resolution (Date.now() has 1 ms), like Python's time.time().
function now() {
  return (performance.timeOrigin + performance.now()) / 1000;
}

let buffer = { indices: [], latencies: [], first: 0, last: 0 };
let client = null;

function start() {
  client = new Redis(process.env.BENCH_REDIS_URL);
  const timer = setInterval(() => {
    flush().catch(() => {}); // kept for the next try: runs still missing at the end show in the figures
  }, KEYS.flush_s * 1000);
  timer.unref(); // like the Python flusher, a daemon: it never keeps the process alive
}

function record(index, enqueuedAt) {
  const t = now();
  if (client === null) start();
  const b = buffer;
  b.indices.push(index);
  if (enqueuedAt > 0) b.latencies.push(t - enqueuedAt);
  if (!b.first) b.first = t;
  b.last = t;
}

async function flush() {
  const b = buffer;
  if (!b.indices.length) return;
  buffer = { indices: [], latencies: [], first: 0, last: 0 };
  const pipe = client.pipeline();
  pipe.incrby(KEYS.runs, b.indices.length);
  pipe.sadd(KEYS.seen, ...b.indices);
  if (b.latencies.length) pipe.rpush(KEYS.latency, ...b.latencies.map(String));
  pipe.rpush(KEYS.first, String(b.first));
  pipe.rpush(KEYS.last, String(b.last));
  try {
    const replies = await pipe.exec();
    const failed = replies.find(([err]) => err);
    if (failed) throw failed[0];
  } catch (err) {
    // keep the batch for the next flush
    buffer.indices.unshift(...b.indices);
    buffer.latencies.unshift(...b.latencies);
    buffer.first = buffer.first ? Math.min(b.first, buffer.first) : b.first;
    throw err;
  }
}

module.exports = { record, now };
