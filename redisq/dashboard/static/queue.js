// One queue: its jobs by state, paged by the server, filtered by the server's search (filters.js), with
// the queue's actions, each row's, and bulk actions on a selection or on what a filter matches (bulk.js)
// for admins.

import { api } from "./api.js";
import { bulkActions, bulkBar } from "./bulk.js";
import { confirmDialog, fmtInt, h, jobHref, queueHref, replace, setText, splitJobId, toast } from "./dom.js";
import { noJobs } from "./empty.js";
import { FILTERS, filterBar, hasFilters, readFilters, showSearchNote } from "./filters.js";
import { jobTable } from "./jobrows.js";
import { S } from "./strings.js";

const LIMIT = 25;
const STATES = [
  // [state, tab label, the moment shown in the list, where the live count comes from]
  ["queued", S.queued, S.enqueued, (q) => q.queued + (q.limited || 0)], // ready, and waiting on limits
  ["scheduled", S.scheduled, S.due, (q) => q.scheduled],
  ["active", S.active, S.started, (q) => q.active],
  ["succeeded", S.succeeded, S.finished, (q) => q.succeeded_kept], // records kept (the index is trimmed)
  ["dead", S.dead, S.died, (q) => q.dead],
  ["waiting", S.waiting, S.enqueued, (q) => q.waiting || 0], // for the jobs they depend on (workflows)
];
const PURGEABLE = new Set(["queued", "scheduled", "succeeded", "dead", "waiting"]);
// A filtered list is a search on the server (up to 5,000 entries a request): when the queue moves, it is
// searched again at most this often, not after every change as a plain page is read again.
const FILTERED_RELOAD_MS = 10_000;

function readQuery(query) {
  const state = STATES.some(([s]) => s === query.get("state")) ? query.get("state") : "queued";
  const offset = Math.max(0, parseInt(query.get("offset") || "0", 10) || 0);
  const order = query.get("order") === "oldest" ? "oldest" : "newest";
  return { state, offset, order, filters: readFilters(query) };
}

export function queuePage(ctx, queue, query) {
  let view = readQuery(query);
  let stats = null;
  let page = null;
  let loadToken = 0;
  let reloadTimer = null;
  let lastSignature = null;

  const heading = h("h1", { tabindex: "-1" }, queue);
  const pausedBadge = h("span", { class: "badge badge-paused", hidden: true }, S.paused);
  const crumbs = h("nav", { class: "crumbs", "aria-label": S.breadcrumb }, h("a", { href: "#/" }, S.overview), " / ", queue);

  const tabCounts = {};
  const tabLinks = {};
  const tabs = h(
    "nav",
    { class: "tabs", "aria-label": S.jobStates },
    STATES.map(([state, label]) => {
      tabCounts[state] = h("span", { class: "tab-count" }, "");
      tabLinks[state] = h("a", { href: queueHref(queue, { state }), class: "tab" }, label, " ", tabCounts[state]);
      return tabLinks[state];
    }),
  );

  // ---- actions (admins only: a reader is never offered them) ----
  const pauseButton = h("button", { type: "button", class: "btn", "data-action": "pause" }, S.pauseQueue);
  const retryDeadButton = h("button", { type: "button", class: "btn", "data-action": "requeue-dead" }, S.retryAllDead);
  const purgeButton = h("button", { type: "button", class: "btn btn-danger-soft", "data-action": "purge" }, S.purgeAsk);
  const actions = ctx.canAdmin(queue) ? h("div", { class: "actions", role: "group", "aria-label": S.queueActions }, pauseButton, retryDeadButton, purgeButton) : null;

  const searchInput = h("input", { id: "job-search", type: "search", name: "id", placeholder: S.jobIdPlaceholder, autocomplete: "off", spellcheck: "false", required: true });
  const searchStatus = h("p", { class: "search-status", role: "status" });
  const search = h(
    "form",
    { class: "search", role: "search" },
    h("label", { for: "job-search" }, S.findById),
    h("div", { class: "search-row" }, searchInput, h("button", { type: "submit", class: "btn" }, S.find)),
    searchStatus,
  );

  const orderSelect = h(
    "select",
    { id: "job-order" },
    h("option", { value: "newest" }, S.newestFirst),
    h("option", { value: "oldest" }, S.oldestFirst),
  );
  const missing = h(
    "div",
    { class: "notice missing", role: "status", hidden: true },
    h("strong", null, S.noQueue(queue)),
    S.noQueueText,
    h("a", { href: "#/" }, S.backToOverview),
  );
  // The limits on this queue's jobs, and how many wait on them (set aside, out of the queued list).
  const limitsLine = h("p", { class: "limits", "data-role": "limits", hidden: true });
  const listHead = h("h2", { class: "list-title" }, "");
  const list = h("div", { class: "job-list", "aria-live": "polite", "aria-busy": "true" }, h("p", { class: "empty" }, S.loading));
  const pager = h("nav", { class: "pager", "aria-label": S.pagesNav });
  const filters = filterBar((chosen) => go({ filters: chosen }));
  const searchNote = h("p", { class: "search-note", role: "status", hidden: true });
  // The uids selected for a bulk action: kept across the list's live reloads, cleared with a new view.
  const selection = new Set();
  const bulk = ctx.canAdmin(queue) ? bulkBar({ queue, view: () => view, selection, settle: () => load() }) : null;

  const listBar = h("div", { class: "list-bar" }, listHead, h("div", { class: "order" }, h("label", { for: "job-order" }, S.order), orderSelect), search);
  const el = h(
    "section",
    { class: "page page-queue" },
    crumbs,
    h("div", { class: "page-head" }, h("div", { class: "title-row" }, heading, pausedBadge), actions),
    missing,
    limitsLine,
    tabs,
    listBar,
    filters.el,
    searchNote,
    bulk ? bulk.el : null,
    list,
    pager,
  );

  // Whether the queue exists: unknown until the first snapshot or list says. The actions wait for a yes;
  // a queue that does not exist gets a notice instead of its (empty) tabs and actions (issue 11).
  let exists; // undefined before the first call below: null (unknown), true or false after
  function setExists(value) {
    if (value === exists) return;
    const wasMissing = exists === false;
    exists = value;
    missing.hidden = value !== false;
    for (const part of [tabs, listBar, filters.el, list, pager, actions]) if (part) part.hidden = value === false;
    pauseButton.disabled = purgeButton.disabled = value !== true;
    retryDeadButton.disabled = value !== true || !stats || stats.dead === 0;
    if (value === true && wasMissing) load(); // it appeared: its list was never read
  }
  setExists(null);

  // The address of this view with `params` changed (state, order, offset, filters): the offset starts over.
  function hrefFor(params) {
    const next = { state: view.state, order: view.order, offset: 0, filters: view.filters, ...params };
    const query = { state: next.state };
    for (const name of FILTERS) if (next.filters[name]) query[name] = next.filters[name];
    if (next.offset) query.offset = next.offset;
    if (next.order !== "newest") query.order = next.order;
    return queueHref(queue, query);
  }

  function go(params) {
    location.hash = hrefFor(params);
  }

  orderSelect.addEventListener("change", () => go({ order: orderSelect.value }));

  search.addEventListener("submit", async (event) => {
    event.preventDefault();
    const raw = searchInput.value.trim();
    if (!raw) return;
    const parsed = raw.includes(":") ? splitJobId(raw) : { queue, uid: raw };
    searchStatus.textContent = S.looking;
    try {
      const job = await api.job(parsed.queue || queue, parsed.uid);
      searchStatus.textContent = "";
      location.hash = jobHref(job.queue, job.uid);
    } catch (err) {
      searchStatus.textContent = err.status === 404 ? S.noJobById(raw, parsed.queue || queue) : err.message;
    }
  });

  async function run(button, work) {
    button.disabled = true;
    try {
      await work();
    } catch (err) {
      toast(err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  pauseButton.addEventListener("click", () =>
    run(pauseButton, async () => {
      const wantPaused = !(stats && stats.paused);
      const answer = await api.pause(queue, wantPaused);
      showPaused(answer.paused);
      toast(answer.paused ? S.pausedToast(queue) : S.runningAgain(queue));
    }),
  );

  retryDeadButton.addEventListener("click", async () => {
    const n = stats ? stats.dead : null;
    const ok = await confirmDialog({ title: S.retryDeadTitle, text: S.retryDeadText(n, queue), confirm: S.retryAllDead, danger: false });
    if (!ok) return;
    await run(retryDeadButton, async () => {
      const answer = await api.requeueDead(queue);
      toast(S.retriedDead(answer.requeued));
      load();
    });
  });

  purgeButton.addEventListener("click", async () => {
    const state = view.state;
    if (!PURGEABLE.has(state)) return;
    const n = page && page.state === state ? page.total : null;
    const ok = await confirmDialog({ title: S.purgeTitle(state), text: S.purgeText(n, state, queue), confirm: S.purgeConfirm(state) });
    if (!ok) return;
    await run(purgeButton, async () => {
      const answer = await api.purge(queue, state);
      toast(S.purged(answer.deleted, state));
      load();
    });
  });

  function showPaused(paused) {
    pausedBadge.hidden = !paused;
    if (stats) stats.paused = paused;
    pauseButton.textContent = paused ? S.resumeQueue : S.pauseQueue;
    pauseButton.dataset.action = paused ? "resume" : "pause";
  }

  function renderPage(data) {
    page = data;
    const [, label, moment] = STATES.find(([s]) => s === data.state);
    if (data.state === "succeeded" && !hasFilters(view.filters)) setText(tabCounts.succeeded, fmtInt(data.total), false);
    listHead.textContent = hasFilters(view.filters) ? S.listMatching(label) : S.listAll(label);
    showSearchNote(searchNote, data, (offset) => go({ offset }));
    const shown = new Set(data.items.map((job) => job.uid));
    for (const uid of [...selection]) if (!shown.has(uid)) selection.delete(uid); // only what is on screen
    if (!data.items.length) {
      const none = data.searched !== undefined ? h("p", { class: "empty" }, data.next === null ? S.noMatch : S.noMatchHere) : null;
      replace(list, none || (data.total ? h("p", { class: "empty" }, S.emptyPage) : noJobs(data.state)));
    } else {
      const focusedAction = document.activeElement && list.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") || document.activeElement.getAttribute("href") : null;
      const table = jobTable({
        data,
        caption: S.jobsIn(label, queue),
        moment,
        admin: ctx.canAdmin(queue),
        selectable: ctx.canAdmin(queue) && bulkActions(data.state).length > 0,
        selection,
        onSelect: () => bulk && bulk.render(),
        onChange: load,
      });
      replace(list, h("div", { class: "table-wrap" }, table));
      if (focusedAction) {
        const again = [...list.querySelectorAll("a, button, input")].find(
          (x) => (x.getAttribute("aria-label") || x.getAttribute("href")) === focusedAction,
        );
        if (again) again.focus();
      }
    }
    if (bulk) bulk.render();
    renderPager(data);
  }

  function renderPager(data) {
    const link = (label, offset, enabled, rel) =>
      enabled
        ? h("a", { href: hrefFor({ offset }), class: "btn", rel }, label)
        : h("span", { class: "btn is-disabled", "aria-disabled": "true" }, label);
    if (data.searched !== undefined) {
      // A search pages forward only, from where the last one stopped: its pages are not of a known size.
      // (A page it cut short goes on from the note's "Search further".)
      const more = data.next !== null && data.items.length >= data.limit;
      if (data.offset > 0 || more) replace(pager, link(S.firstMatches, 0, data.offset > 0, "first"), link(S.nextPage, data.next, more, "next"));
      else replace(pager);
      return;
    }
    const first = data.total ? data.offset + 1 : 0;
    const last = Math.min(data.offset + data.items.length, data.total);
    replace(
      pager,
      link(S.previousPage, Math.max(0, data.offset - LIMIT), data.offset > 0, "prev"),
      h("span", { class: "pager-text" }, data.total ? S.pageOf(fmtInt(first), fmtInt(last), fmtInt(data.total)) : S.noJobsAtAll),
      link(S.nextPage, data.offset + LIMIT, data.offset + LIMIT < data.total, "next"),
    );
  }

  async function load() {
    const token = ++loadToken;
    list.setAttribute("aria-busy", "true");
    try {
      const data = await api.jobs(queue, { state: view.state, offset: view.offset, limit: LIMIT, order: view.order, ...view.filters });
      if (token !== loadToken) return;
      setExists(true);
      renderPage(data);
    } catch (err) {
      if (token !== loadToken) return;
      if (err.code === "queue_not_found") setExists(false);
      replace(list, h("p", { class: "empty error-text" }, err.message));
      replace(pager);
    } finally {
      if (token === loadToken) list.setAttribute("aria-busy", "false");
    }
  }

  function applyView() {
    STATES.forEach(([state]) => {
      if (state === view.state) tabLinks[state].setAttribute("aria-current", "page");
      else tabLinks[state].removeAttribute("aria-current");
      tabLinks[state].setAttribute("href", hrefFor({ state })); // the filters go along to another state
    });
    orderSelect.value = view.order;
    filters.show(view.filters);
    purgeButton.hidden = !PURGEABLE.has(view.state);
    purgeButton.textContent = S.purgeState(view.state);
    load();
  }

  function describeLimit(limit) {
    const parts = [];
    if (limit.rate_limit) parts.push(`${limit.rate_limit.replace("/", S.perRate)}${limit.burst > 1 ? S.bursts(limit.burst) : ""}`);
    if (limit.max_concurrency) parts.push(S.atMostRunning(limit.max_concurrency));
    const scope = limit.applies_to.includes("*") ? S.queue : limit.applies_to.join(", ");
    const extra = [limit.per_key ? S.perKey : "", limit.shared ? S.sharedAcrossQueues : ""].filter(Boolean).join(", ");
    return `${scope}: ${parts.join(", ")}${extra ? ` (${extra})` : ""}`;
  }

  function showLimits(q) {
    const limits = q.limits || [];
    limitsLine.hidden = !limits.length && !q.limited;
    const text = limits.map(describeLimit).join(" · ");
    const waiting = q.limited ? S.waitingForRoom(q.limited) : "";
    setText(limitsLine, [S.limits, [text, waiting].filter(Boolean).join(" — ")].join(": "));
  }

  // Live: the tab counts follow each snapshot, and the list is read again when its state's numbers move.
  function onSnapshot(snapshot) {
    const q = (snapshot.queues || []).find((x) => x.queue === queue);
    if (!q) {
      // Every queue is in a snapshot read from Redis: one not there does not exist (yet).
      if (snapshot.redis_ok !== false) setExists(false);
      return;
    }
    stats = { ...q };
    setExists(true);
    showPaused(Boolean(q.paused));
    showLimits(q);
    STATES.forEach(([state, , , read]) => {
      if (read) setText(tabCounts[state], fmtInt(read(q)));
    });
    retryDeadButton.disabled = q.dead === 0;
    const c = q.counters || {};
    const signature = [q.queued, q.limited, q.scheduled, q.active, q.dead, c.enqueued, c.succeeded, c.failed, c.retried, c.cancelled, c.requeued, c.expired, c.aborted].join(",");
    if (lastSignature !== null && signature !== lastSignature && !reloadTimer) {
      reloadTimer = setTimeout(
        () => {
          reloadTimer = null;
          load();
        },
        hasFilters(view.filters) ? FILTERED_RELOAD_MS : 750,
      );
    }
    lastSignature = signature;
  }

  applyView();
  const unsubscribe = ctx.live.subscribe(onSnapshot);

  return {
    el,
    title: S.queueTitle(queue),
    heading,
    key: `queue:${queue}`,
    update(nextQuery) {
      const before = view;
      view = readQuery(nextQuery);
      if (view.state !== before.state || JSON.stringify(view.filters) !== JSON.stringify(before.filters)) {
        selection.clear(); // selected jobs belong to the list they were selected in
        if (bulk) bulk.reset();
      }
      applyView();
    },
    dispose() {
      unsubscribe();
      clearTimeout(reloadTimer);
    },
  };
}
