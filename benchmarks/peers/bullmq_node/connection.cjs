// BullMQ's connection options from BENCH_REDIS_URL (redis://host:port/db).
'use strict';

function connection() {
  const url = new URL(process.env.BENCH_REDIS_URL);
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0;
  return { host: url.hostname, port: Number(url.port || 6379), db };
}

module.exports = { connection };
