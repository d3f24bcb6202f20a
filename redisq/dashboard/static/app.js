// The redisq dashboard: hash routes over one page, fed by the server's snapshot stream (SSE).
//   #/                   overview          #/queues/<queue>?state=&offset=&order=   one queue's jobs
//   #/jobs/<queue>/<uid> one job           #/workers                                live workers
//   #/schedules          periodic jobs     #/workflows/<id>                         one workflow's steps
//   #/redis              the Redis server(s): memory, eviction policy, persistence, slow log
//   #/metrics            every queue over time  #/metrics/<queue>?range=&task=        one queue's tasks

import { api } from "./api.js";
import { fmtStamp, h, refreshAgo, replace } from "./dom.js";
import { jobPage } from "./job.js";
import { setUpJump } from "./jump.js";
import { metricsPage } from "./metrics.js";
import { SnapshotStream } from "./live.js";
import { overviewPage } from "./overview.js";
import { queuePage } from "./queue.js";
import { redisPage } from "./redis.js";
import { schedulesPage } from "./schedules.js";
import { S } from "./strings.js";
import { workersPage } from "./workers.js";
import { workflowPage } from "./workflow.js";

const main = document.getElementById("main");
const banner = document.getElementById("banner");
const liveIndicator = document.getElementById("live");

// `admin`: the highest level granted; `canAdmin(queue)`: on that queue (access per queue: `/_me` names the
// level of each queue, and a queue it does not name offers no actions; the server decides anyway).
const ctx = {
  admin: false,
  perQueue: null,
  canAdmin: (queue) => (ctx.perQueue ? ctx.perQueue[queue] === "admin" : ctx.admin),
  live: new SnapshotStream(),
};
let current = null;

function route() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search] = raw.split("?");
  const query = new URLSearchParams(search || "");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch (err) {
      return p;
    }
  });
  if (parts.length === 0) return { key: "overview", make: () => overviewPage(ctx), nav: "overview" };
  if (parts[0] === "workers" && parts.length === 1) return { key: "workers", make: () => workersPage(ctx), nav: "workers" };
  if (parts[0] === "schedules" && parts.length === 1) return { key: "schedules", make: () => schedulesPage(ctx), nav: "schedules" };
  if (parts[0] === "redis" && parts.length === 1) return { key: "redis", make: () => redisPage(), nav: "redis" };
  if (parts[0] === "metrics" && parts.length <= 2) {
    const queue = parts[1] || null;
    return { key: `metrics:${queue}`, make: () => metricsPage(queue, query), query, nav: "metrics" };
  }
  if (parts[0] === "queues" && parts.length === 2) {
    return { key: `queue:${parts[1]}`, make: () => queuePage(ctx, parts[1], query), query, nav: "overview" };
  }
  if (parts[0] === "workflows" && parts.length === 2) {
    return { key: `workflow:${parts[1]}`, make: () => workflowPage(ctx, parts[1]), nav: "overview" };
  }
  if (parts[0] === "jobs" && parts.length === 3) {
    return { key: `job:${parts[1]}:${parts[2]}`, make: () => jobPage(ctx, parts[1], parts[2]), nav: "overview" };
  }
  return { key: "missing", make: notFound, nav: null };
}

function notFound() {
  const heading = h("h1", { tabindex: "-1" }, S.notFoundHeading);
  const el = h("section", { class: "page" }, heading, h("p", null, S.notFoundText, h("a", { href: "#/" }, S.backToOverview)));
  return { el, title: S.notFoundTitle, heading };
}

function navigate(first) {
  const next = route();
  if (current && current.key === next.key && current.page.update) {
    current.page.update(next.query);
    return;
  }
  if (current && current.page.dispose) current.page.dispose();
  const page = next.make();
  current = { key: next.key, page };
  replace(main, page.el);
  document.title = S.docTitle(page.title);
  document.querySelectorAll("[data-nav]").forEach((a) => {
    if (a.dataset.nav === next.nav) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  // Moving to another page moves keyboard and screen reader focus to its title.
  if (!first && page.heading) page.heading.focus({ preventScroll: false });
  if (!first) window.scrollTo(0, 0);
}

// ---- Redis and stream health: one banner --------------------------------------------------------------

function updateBanner() {
  const stream = ctx.live;
  const snapshot = stream.snapshot;
  let text = null;
  if (stream.status === "down") {
    text = [h("strong", null, S.connectionLost), S.connectionLostText(snapshot ? fmtStamp(snapshot.at) : null)];
  } else if (snapshot && snapshot.redis_ok === false) {
    text = [
      h("strong", null, S.redisDown),
      S.redisDownText(snapshot.stale_at ? fmtStamp(snapshot.stale_at) : null),
      snapshot.error ? h("span", { class: "banner-detail" }, String(snapshot.error)) : null,
    ];
  }
  banner.hidden = text === null;
  // Greys every figure on the page (app.css): they are from before, whichever of the two is away.
  document.body.classList.toggle("is-degraded", text !== null);
  if (text !== null) replace(banner, h("span", { class: "banner-icon", "aria-hidden": "true" }, "!"), h("span", null, text));
  const state = stream.status === "open" && !(snapshot && snapshot.redis_ok === false) ? "live" : stream.status === "connecting" ? "connecting" : "offline";
  liveIndicator.dataset.state = state;
  liveIndicator.textContent = S.live[state];
}

// ---- theme: the system's (prefers-color-scheme), or the one the toggle chose, kept in this browser --------

const THEMES = ["auto", "dark", "light"]; // the toggle's order

function applyTheme(theme) {
  if (theme === "auto") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
  const toggle = document.getElementById("theme");
  toggle.setAttribute("aria-label", S.theme[theme]);
  toggle.title = S.theme[theme];
  toggle.dataset.theme = theme;
}

function setUpTheme() {
  let theme = "auto";
  try {
    theme = THEMES.includes(localStorage.getItem("redisq-theme")) ? localStorage.getItem("redisq-theme") : "auto";
  } catch (err) {
    theme = "auto"; // storage refused (a private window): the choice lasts for this page only
  }
  applyTheme(theme);
  document.getElementById("theme").addEventListener("click", () => {
    theme = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
    applyTheme(theme);
    try {
      localStorage.setItem("redisq-theme", theme);
    } catch (err) {
      // kept for this page only
    }
  });
}

// ---- the page's own texts: index.html has them too, so that it reads and its links work before this runs --

const NAV = { overview: S.overview, metrics: S.metrics, workers: S.workers, schedules: S.schedules, redis: S.redis };

function labelPage() {
  document.querySelector(".skip-link").textContent = S.skipToContent;
  document.querySelector(".mainnav").setAttribute("aria-label", S.mainNav);
  document.querySelectorAll(".mainnav [data-nav]").forEach((a) => {
    a.textContent = NAV[a.dataset.nav];
  });
  const jump = document.getElementById("jump");
  replace(jump, `${S.jumpOpen} `, jump.querySelector("kbd"));
  liveIndicator.textContent = S.live[liveIndicator.dataset.state];
}

// ---- start --------------------------------------------------------------------------------------------

async function start() {
  labelPage();
  setUpTheme();
  setUpJump(ctx, document.getElementById("jump"));
  try {
    const me = await api.me();
    ctx.admin = me && me.access === "admin";
    ctx.perQueue = (me && me.queues) || null;
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      const heading = h("h1", { tabindex: "-1" }, S.accessDenied);
      replace(main, h("section", { class: "page" }, heading, h("p", null, err.message)));
      liveIndicator.textContent = "";
      return;
    }
    ctx.admin = false; // when in doubt, offer no actions: the server refuses them to readers anyway
  }
  document.body.dataset.access = ctx.admin ? "admin" : "read";
  ctx.live.onStatus(updateBanner);
  ctx.live.subscribe(updateBanner);
  ctx.live.subscribe(() => refreshAgo(main));
  ctx.live.start();
  window.addEventListener("hashchange", () => navigate(false));
  navigate(true);
  setInterval(() => refreshAgo(main), 5000);
}

start();
