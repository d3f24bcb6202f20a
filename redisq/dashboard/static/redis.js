// Redis (issue 17): each master's version, memory (used, peak, limit), eviction policy (a red warning
// unless noeviction: an evicted job is a lost job), persistence, clients and slow log; read-only. Read from
// GET M/_redis when the page opens and every few seconds while it is open.

import { api } from "./api.js";
import { fmtDuration, fmtInt, h, replace, timeAgo } from "./dom.js";
import { S } from "./strings.js";

const REFRESH_MS = 5000;

function bytes(n) {
  if (n === null || n === undefined) return h("span", { class: "muted" }, "–");
  const units = S.byteUnits;
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

function known(value, show = (v) => v) {
  return value === null || value === undefined ? h("span", { class: "muted" }, S.notReadable) : show(value);
}

function persistence(n) {
  const parts = [n.aof_enabled ? S.aofOn : S.aofOff];
  if (n.rdb_last_save_at) parts.push(S.lastRdb, timeAgo(n.rdb_last_save_at));
  if (n.rdb_changes_since_last_save) parts.push(S.changesSince(fmtInt(n.rdb_changes_since_last_save)));
  if (n.rdb_last_bgsave_ok === false) parts.push(h("strong", { class: "bad" }, S.snapshotFailed));
  return h("span", null, parts);
}

function nodeCard(n) {
  if (n.error) return h("div", { class: "card redis-node", dataset: { node: n.node } }, h("h2", null, n.node), h("p", { class: "bad" }, n.error));
  const policy = h("span", { class: n.evicts ? "badge state-dead" : "badge state-succeeded", "data-field": "policy" }, n.maxmemory_policy || S.unknownPolicy);
  const rows = [
    [S.version, known(n.version, (v) => `${v}${n.mode ? ` (${n.mode}, ${n.role})` : ""}`)],
    [S.uptime, known(n.uptime_s, (s) => fmtDuration(s))],
    [S.memory, known(n.used_memory, (u) => h("span", { "data-field": "memory" }, bytes(u), h("span", { class: "muted" }, S.usedPeak), bytes(n.used_memory_peak), h("span", { class: "muted" }, S.memoryLimit), n.maxmemory ? bytes(n.maxmemory) : S.noMemoryLimit))],
    [S.eviction, policy],
    [S.persistence, persistence(n)],
    [S.clients, known(n.connected_clients, fmtInt)],
  ];
  const slow = n.slowlog_error
    ? h("p", { class: "muted" }, S.slowLogUnreadable(n.slowlog_error))
    : n.slowlog.length
      ? h(
          "table",
          { class: "table slowlog" },
          h("caption", { class: "visually-hidden" }, S.slowLogOf(n.node)),
          h("thead", null, h("tr", null, [S.when, S.took, S.command].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", null, n.slowlog.map((e) => h("tr", null, h("td", { class: "nowrap" }, timeAgo(e.at)), h("td", { class: "nowrap" }, S.microseconds(fmtInt(e.duration_us))), h("td", { class: "mono small" }, e.command)))),
        )
      : h("p", { class: "muted" }, S.slowLogEmpty);
  return h(
    "div",
    { class: "card redis-node", dataset: { node: n.node } },
    h("h2", null, n.node),
    h("dl", { class: "facts" }, rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))),
    h("h3", null, S.slowLog),
    h("p", { class: "muted small" }, S.slowLogNote),
    slow,
  );
}

export function redisPage() {
  const heading = h("h1", { tabindex: "-1" }, S.redis);
  const warnings = h("div", { class: "redis-warnings", role: "alert" });
  const nodes = h("div", { class: "redis-nodes" });
  const el = h("section", { class: "page page-redis" }, heading, warnings, nodes);
  let lastKey = null;

  async function load() {
    try {
      const body = await api.redis();
      const key = JSON.stringify(body);
      if (key === lastKey) return;
      lastKey = key;
      replace(warnings, ...body.warnings.map((w) => h("p", { class: "banner redis-warning" }, h("span", { class: "banner-icon", "aria-hidden": "true" }, "!"), h("span", null, w))));
      replace(nodes, ...body.nodes.map(nodeCard));
    } catch (err) {
      replace(nodes, h("p", { class: "muted" }, err.message));
    }
  }

  load();
  const timer = setInterval(load, REFRESH_MS);
  return { el, title: S.redis, heading, dispose: () => clearInterval(timer) };
}
