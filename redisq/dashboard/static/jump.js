// The quick-jump box (issue 17). `/` or Ctrl/⌘-K (and `?`, which shows the shortcuts) opens it from any
// page, unless a text field has the keyboard; the top bar's "Jump" button too. Typing filters queues (the
// names the snapshot stream already brought), schedules, and tasks (those each queue ran in the last 24 h,
// from its history); text of the form `<queue>:<uid>` offers that job's page, and any text a workflow of
// that id. Arrow keys choose, Enter goes, Esc closes and gives focus back.

import { api } from "./api.js";
import { h, jobHref, queueHref, replace, splitJobId } from "./dom.js";
import { S } from "./strings.js";

const MAX_SHOWN = 12;
const FRESH_MS = 60_000; // schedules and tasks are read again when the box opens after this long
const TASK_RANGE = "24h"; // a task is offered on the queues that ran it within this range
const TASK_QUEUES_MAX = 50; // queues whose tasks are read when the box opens: one request each

// What each kind of place is called; the kind itself is the option's data-kind.
const KINDS = { job: S.job, queue: S.queue, schedule: S.schedule, task: S.task, workflow: S.workflow };

function typing(target) {
  const tag = target && target.tagName;
  return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || Boolean(target && target.isContentEditable);
}

/** What the box can offer, read when it opens: schedules, and each queue's tasks. Failures leave a kind out
 * (a reader whose auth refuses a route, Redis away): the queues from the snapshot are still there. */
async function readDirectory(allQueues) {
  const queues = allQueues.slice(0, TASK_QUEUES_MAX);
  const [schedules, histories] = await Promise.all([
    api.schedules().then((answer) => answer.schedules || [], () => []),
    Promise.all(queues.map((q) => api.queueHistory(q, TASK_RANGE).then((answer) => answer.tasks || [], () => []))),
  ]);
  const tasks = new Map(); // task -> Set of queues
  const add = (task, queue) => {
    if (!tasks.has(task)) tasks.set(task, new Set());
    tasks.get(task).add(queue);
  };
  queues.forEach((queue, i) => histories[i].forEach((t) => add(t.task, queue)));
  schedules.forEach((s) => add(s.task, s.queue));
  return { schedules, tasks };
}

function candidates(text, queues, directory) {
  const query = text.trim();
  const needle = query.toLowerCase();
  const out = [];
  if (query.includes(":")) {
    const { queue, uid } = splitJobId(query);
    if (queue && uid) out.push({ kind: "job", label: query, detail: S.inQueue(queue), href: jobHref(queue, uid), exact: true });
  }
  const found = [];
  queues.forEach((q) => found.push({ kind: "queue", label: q, href: queueHref(q) }));
  directory.schedules.forEach((s) =>
    found.push({ kind: "schedule", label: s.id, detail: S.taskOnQueue(s.task, s.queue), href: "#/schedules" }),
  );
  for (const [task, on] of directory.tasks) {
    // The queue page filters by ?task= where it can, and shows the queue's jobs where it cannot.
    [...on].sort().forEach((q) => found.push({ kind: "task", label: task, detail: S.onWhere(q), href: queueHref(q, { task }) }));
  }
  const score = (c) => {
    const label = c.label.toLowerCase();
    if (!needle) return 1;
    if (label === needle) return 4;
    if (label.startsWith(needle)) return 3;
    if (label.includes(needle)) return 2;
    return (c.detail || "").toLowerCase().includes(needle) ? 1 : 0;
  };
  const ranked = found.map((c) => [score(c), c]).filter(([s]) => s > 0);
  ranked.sort((a, b) => b[0] - a[0] || a[1].label.localeCompare(b[1].label));
  out.push(...ranked.map(([, c]) => c));
  if (query && !query.includes("/")) {
    out.push({ kind: "workflow", label: query, detail: S.openWorkflow, href: `#/workflows/${encodeURIComponent(query)}` });
  }
  return out.slice(0, MAX_SHOWN);
}

export function setUpJump(ctx, opener) {
  const input = h("input", {
    id: "jump-input",
    type: "text",
    role: "combobox",
    "aria-expanded": "true",
    "aria-controls": "jump-results",
    "aria-autocomplete": "list",
    autocomplete: "off",
    spellcheck: "false",
    placeholder: S.jumpPlaceholder,
  });
  const results = h("ul", { id: "jump-results", class: "jump-results", role: "listbox", "aria-label": S.jumpPlaces });
  const status = h("p", { class: "jump-status muted", role: "status" });
  const help = h(
    "dl",
    { class: "jump-keys" },
    S.shortcutList.map(([keys, what]) => h("div", null, h("dt", null, keys.split("  ").map((k) => h("kbd", null, k))), h("dd", null, what))),
  );
  const dialog = h(
    "dialog",
    { class: "dialog jump", "aria-label": S.jumpTo },
    h("label", { for: "jump-input", class: "jump-label" }, S.jumpTo),
    input,
    status,
    results,
    h("details", { class: "jump-help" }, h("summary", null, S.shortcuts), help),
  );
  document.body.appendChild(dialog);

  let shown = [];
  let active = 0;
  let directory = { schedules: [], tasks: new Map() };
  let readAt = 0;
  let returnFocus = null;
  let navigating = false;

  const queueNames = () => ((ctx.live.snapshot && ctx.live.snapshot.queues) || []).map((q) => q.queue);

  function render() {
    shown = candidates(input.value, queueNames(), directory);
    active = Math.min(active, Math.max(shown.length - 1, 0));
    replace(
      results,
      shown.map((c, i) => {
        const option = h(
          "li",
          { id: `jump-option-${i}`, role: "option", class: "jump-option", "aria-selected": String(i === active), dataset: { kind: c.kind } },
          h("span", { class: "jump-kind" }, KINDS[c.kind]),
          h("span", { class: "jump-name mono" }, c.label),
          c.detail ? h("span", { class: "jump-detail muted" }, c.detail) : null,
        );
        option.addEventListener("click", () => go(c));
        option.addEventListener("mousemove", () => {
          if (active !== i) choose(i);
        });
        return option;
      }),
    );
    if (shown.length) input.setAttribute("aria-activedescendant", `jump-option-${active}`);
    else input.removeAttribute("aria-activedescendant");
    status.textContent = shown.length ? "" : input.value.trim() ? S.nothingOfThatName : S.noQueueYet;
  }

  function choose(i) {
    active = i;
    results.querySelectorAll("[role=option]").forEach((el, n) => el.setAttribute("aria-selected", String(n === i)));
    input.setAttribute("aria-activedescendant", `jump-option-${i}`);
    const el = document.getElementById(`jump-option-${i}`);
    if (el) el.scrollIntoView({ block: "nearest" });
  }

  function go(c) {
    navigating = true; // the new page's title takes the focus (app.js)
    dialog.close();
    location.hash = c.href;
  }

  async function open(withHelp = false) {
    if (dialog.open) return;
    returnFocus = document.activeElement;
    input.value = "";
    active = 0;
    dialog.querySelector(".jump-help").open = withHelp;
    render();
    dialog.showModal();
    input.focus();
    const queues = queueNames();
    if (Date.now() - readAt > FRESH_MS && queues.length) {
      readAt = Date.now();
      directory = await readDirectory(queues);
      if (dialog.open) render();
    }
  }

  input.addEventListener("input", () => {
    active = 0;
    render();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (shown.length) choose((active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length);
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (shown[active]) go(shown[active]);
    }
  });
  dialog.addEventListener("close", () => {
    if (!navigating && returnFocus && returnFocus.isConnected) returnFocus.focus({ preventScroll: true });
    navigating = false;
  });
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close(); // a click on the backdrop
  });

  document.addEventListener("keydown", (event) => {
    if (event.defaultPrevented || event.altKey) return;
    const commandK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
    if (commandK || (!event.ctrlKey && !event.metaKey && (event.key === "/" || event.key === "?") && !typing(event.target))) {
      if (document.querySelector("dialog[open]:not(.jump)")) return; // another dialog has the page
      event.preventDefault();
      open(event.key === "?");
    }
  });
  if (opener) opener.addEventListener("click", () => open(false));
}
