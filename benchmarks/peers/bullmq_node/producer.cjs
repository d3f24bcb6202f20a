// A BullMQ producer driven by the harness (peers/bullmq_node.py) over stdin, one command a line, one JSON
// reply a line on stdout. The enqueue figures are timed here, around the BullMQ calls alone (no pipe, no
// process start-up in them):
//   add INDEX STAMP      one `await queue.add('noop', {index, enqueued_at})`; with STAMP 1, enqueued_at is
//                        this process's clock taken just before the call (the latency figure), else 0
//   single N CAP_S       one add (connect, load scripts), then N awaited adds, timed: {done, elapsed}
//   bulk N               build N job descriptions (timed apart), then one `queue.addBulk`: {prepare, send}
//   fill START STOP      queue those indices by addBulk, 10,000 a call (untimed, before a drain)
//   close                close the queue and exit
'use strict';

const readline = require('node:readline');
const { Queue } = require('bullmq');
const { now } = require('./record.cjs');
const { connection } = require('./connection.cjs');

const queue = new Queue(process.env.BENCH_QUEUE, { connection: connection() });
const FILL_CHUNK = 10000;

function jobs(start, stop) {
  const out = [];
  for (let i = start; i < stop; i++) out.push({ name: 'noop', data: { index: i, enqueued_at: 0 } });
  return out;
}

async function handle(words) {
  const [command, ...args] = words;
  const n = args.map(Number);
  if (command === 'add') {
    const data = { index: n[0], enqueued_at: n[1] ? now() : 0 };
    await queue.add('noop', data);
    return {};
  }
  if (command === 'single') {
    const [count, capS] = n;
    await queue.add('noop', { index: count, enqueued_at: 0 });
    const started = performance.now();
    const deadline = started + capS * 1000;
    let done = count;
    for (let i = 0; i < count; i++) {
      await queue.add('noop', { index: i, enqueued_at: 0 });
      if (i % 256 === 255 && performance.now() > deadline) {
        done = i + 1;
        break;
      }
    }
    return { done, elapsed: (performance.now() - started) / 1000 };
  }
  if (command === 'bulk') {
    const t0 = performance.now();
    const prepared = jobs(0, n[0]);
    const t1 = performance.now();
    await queue.addBulk(prepared);
    const t2 = performance.now();
    return { prepare: (t1 - t0) / 1000, send: (t2 - t1) / 1000 };
  }
  if (command === 'fill') {
    for (let start = n[0]; start < n[1]; start += FILL_CHUNK) {
      await queue.addBulk(jobs(start, Math.min(n[1], start + FILL_CHUNK)));
    }
    return {};
  }
  if (command === 'close') {
    await queue.close();
    process.stdout.write('{}\n', () => process.exit(0));
    return null;
  }
  throw new Error(`unknown command ${command}`);
}

async function main() {
  await queue.waitUntilReady();
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  const lines = readline.createInterface({ input: process.stdin });
  for await (const line of lines) {
    let reply;
    try {
      reply = await handle(line.trim().split(/\s+/));
    } catch (err) {
      reply = { error: String(err && err.stack ? err.stack : err) };
    }
    if (reply !== null) process.stdout.write(JSON.stringify(reply) + '\n');
  }
  await queue.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
