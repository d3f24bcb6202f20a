// The task bodies, as peers/body.py (the reference): BENCH_BODY=io adds one pipelined round trip, HSET
// <hash> <index> <time> and INCR <counter> (key names from BENCH_IO_KEYS), on a connection of the worker
// process made once, before record(...).
'use strict';

const { Redis } = require('ioredis');
const { record, now } = require('./record.cjs');

const IO = process.env.BENCH_BODY === 'io';
const IO_KEYS = JSON.parse(process.env.BENCH_IO_KEYS);
let client = null;

async function ioRoundTrip(index) {
  if (client === null) client = new Redis(process.env.BENCH_REDIS_URL);
  const replies = await client
    .pipeline()
    .hset(IO_KEYS.hash, String(index), String(now()))
    .incr(IO_KEYS.counter)
    .exec();
  const failed = replies.find(([err]) => err);
  if (failed) throw failed[0];
}

async function run(index, enqueuedAt) {
  if (IO) await ioRoundTrip(index);
  record(index, enqueuedAt);
}

module.exports = { run };
