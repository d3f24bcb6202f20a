// A BullMQ worker on the benchmark's queue: node worker.cjs [--concurrency N] (default: BullMQ's, 1).
// Its processor runs body.run(index, enqueued_at). SIGTERM closes the worker (as BullMQ's docs show for a
// graceful shutdown) and ends the process.
'use strict';

const { Worker } = require('bullmq');
const { run } = require('./body.cjs');
const { connection } = require('./connection.cjs');

const at = process.argv.indexOf('--concurrency');
const opts = { connection: connection() };
if (at > 0) opts.concurrency = Number(process.argv[at + 1]);

const worker = new Worker(
  process.env.BENCH_QUEUE,
  async (job) => run(job.data.index, job.data.enqueued_at || 0),
  opts,
);
worker.on('error', (err) => console.error('worker error', err));

async function stop() {
  await worker.close();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
