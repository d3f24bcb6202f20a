// DOM building and formatting. Every value that comes from a job or from Redis reaches the page through
// `h()` (text nodes and setAttribute), never through HTML parsing, so `<script>` in a job's arguments is
// shown as the characters it is. No string ever becomes markup here (tests/test_dashboard_browser.py
// checks that the scripts use none of the DOM's HTML-parsing sinks).

import { S } from "./strings.js";

const SVG_NS = "http://www.w3.org/2000/svg";

function append(parent, child) {
  if (child === null || child === undefined || child === false) return;
  if (Array.isArray(child)) {
    child.forEach((c) => append(parent, c));
  } else if (child instanceof Node) {
    parent.appendChild(child);
  } else {
    parent.appendChild(document.createTextNode(String(child)));
  }
}

function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else {
      el.setAttribute(name, value === true ? "" : String(value));
    }
  }
}

/** h("a", {href: "#/", class: "x"}, "text", child, [more]) */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function svg(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  append(el, children);
  return el;
}

/** Set text only when it changed; briefly highlight the element so a live change catches the eye. */
export function setText(el, text, flash = true) {
  const value = String(text);
  if (el.textContent === value) return;
  const first = !el.dataset.seen;
  el.textContent = value;
  el.dataset.seen = "1";
  if (flash && !first) {
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
  }
}

// ---- links: the hash routes -------------------------------------------------------------------------

const enc = encodeURIComponent;

export function queueHref(queue, params) {
  const query = params ? "?" + new URLSearchParams(params).toString() : "";
  return `#/queues/${enc(queue)}${query}`;
}

export function jobHref(queue, uid) {
  return `#/jobs/${enc(queue)}/${enc(uid)}`;
}

/** A job id is "<queue>:<uid>"; the uid never holds the separator, the queue name may. */
export function splitJobId(id) {
  const at = String(id).lastIndexOf(":");
  return at < 0 ? { queue: "", uid: String(id) } : { queue: id.slice(0, at), uid: id.slice(at + 1) };
}

// ---- numbers and times ------------------------------------------------------------------------------

const intFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 });
const rateFormat = new Intl.NumberFormat(undefined, { maximumFractionDigits: 1 });

export function fmtInt(n) {
  return typeof n === "number" && Number.isFinite(n) ? intFormat.format(n) : "–";
}

export function fmtRate(n) {
  return typeof n === "number" && Number.isFinite(n) ? rateFormat.format(n) : "–";
}

/** 0.4 s, 12 s, 3 min 5 s, 2 h 10 min, 3 d 4 h */
export function fmtDuration(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)} ${S.unit.ms}`;
  if (s < 10) return `${rateFormat.format(s)} ${S.unit.s}`;
  if (s < 60) return `${Math.round(s)} ${S.unit.s}`;
  const units = [
    [86400, S.unit.d],
    [3600, S.unit.h],
    [60, S.unit.min],
    [1, S.unit.s],
  ];
  for (let i = 0; i < units.length - 1; i++) {
    const [size, name] = units[i];
    if (s >= size) {
      const [nextSize, nextName] = units[i + 1];
      const big = Math.floor(s / size);
      const small = Math.floor((s - big * size) / nextSize);
      return small ? `${big} ${name} ${small} ${nextName}` : `${big} ${name}`;
    }
  }
  return `${Math.round(s)} ${S.unit.s}`;
}

/** A moment as milliseconds: ISO strings from the API, epoch seconds from worker heartbeats. */
export function toMillis(value) {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number") return value < 1e11 ? value * 1000 : value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export function fmtAgo(value, now = Date.now()) {
  const ms = toMillis(value);
  if (ms === null) return "–";
  const delta = (now - ms) / 1000;
  if (delta < -1) return S.inFuture(fmtDuration(-delta));
  if (delta < 1) return S.justNow;
  return S.ago(fmtDuration(delta));
}

const clockFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const two = (n) => String(n).padStart(2, "0");

/** "2026-12-01 14:03:12 UTC+01:00": the browser's local time, with its offset from UTC written out, so
 * that a time read aloud, pasted in a ticket or compared with a server's log says which zone it is in. */
export function fmtStamp(value) {
  const ms = toMillis(value);
  if (ms === null) return "–";
  const d = new Date(ms);
  const offset = -d.getTimezoneOffset(); // minutes east of UTC, for that date (summer time included)
  const zone = `UTC${offset < 0 ? "−" : "+"}${two(Math.floor(Math.abs(offset) / 60))}:${two(Math.abs(offset) % 60)}`;
  const date = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}`;
  return `${date} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${zone}`;
}

export function fmtClock(ms) {
  return clockFormat.format(new Date(ms));
}

/** <time> with the relative moment as text ("3 min ago", kept fresh by refreshAgo) and the absolute one,
 * with its zone, in a tooltip. */
export function timeAgo(value) {
  const ms = toMillis(value);
  if (ms === null) return h("span", { class: "muted" }, "–");
  const iso = new Date(ms).toISOString();
  return h("time", { datetime: iso, title: fmtStamp(ms), dataset: { ago: String(ms) } }, fmtAgo(ms));
}

/** Both forms on screen: "3 min ago" and, beside it (under it on a narrow screen), the absolute time with
 * its zone. For pages where the moment matters (a job's). */
export function timeBoth(value) {
  const ms = toMillis(value);
  if (ms === null) return h("span", { class: "muted" }, "–");
  return h("span", { class: "when" }, timeAgo(ms), " ", h("span", { class: "when-abs" }, fmtStamp(ms)));
}

/** <time> saying how long something has been going on since `value` ("12 s"), the start in a tooltip. */
export function runningFor(value, now = Date.now()) {
  const ms = toMillis(value);
  if (ms === null) return null;
  const iso = new Date(ms).toISOString();
  return h("time", { datetime: iso, title: S.since(fmtStamp(ms)), dataset: { since: String(ms) } }, fmtDuration((now - ms) / 1000));
}

/** A button that copies `text()` to the clipboard and says so (`what`: "traceback", a key of S.copyWhat);
 * where the Clipboard API is refused (a page served over plain http from another host), it selects the
 * text of `fallback`, an element, for the user to copy. */
export function copyButton(text, what, fallback) {
  const noun = S.copyWhat[what] || what;
  const button = h("button", { type: "button", class: "btn btn-small copy", "data-copy": what, "aria-label": S.copyThe(noun) }, S.copy);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text());
      button.textContent = S.copied;
      toast(S.inClipboard(noun));
    } catch (err) {
      if (fallback) {
        const range = document.createRange();
        range.selectNodeContents(fallback);
        const selection = window.getSelection();
        selection.removeAllRanges();
        selection.addRange(range);
      }
      button.textContent = S.copy;
      toast(S.clipboardRefused, "error");
      return;
    }
    setTimeout(() => {
      button.textContent = S.copy;
    }, 2000);
  });
  return button;
}

/** Relative times go stale as the clock moves: refresh every <time data-ago> and <time data-since> under
 * `root`. */
export function refreshAgo(root, now = Date.now()) {
  root.querySelectorAll("time[data-ago]").forEach((el) => {
    setText(el, fmtAgo(Number(el.dataset.ago), now), false);
  });
  root.querySelectorAll("time[data-since]").forEach((el) => {
    setText(el, fmtDuration((now - Number(el.dataset.since)) / 1000), false);
  });
}

// ---- JSON for people: pretty, with large values cut --------------------------------------------------

export const LIMITS = { string: 400, items: 50, depth: 8 };

/**
 * A copy of `value` that prints small: long strings, long arrays and deep nests are cut with a note of
 * what was left out. Returns {value, cut} where cut says whether anything was left out.
 */
export function truncateJson(value, limits = LIMITS) {
  let cut = false;
  const walk = (v, depth) => {
    if (typeof v === "string") {
      if (v.length <= limits.string) return v;
      cut = true;
      return `${v.slice(0, limits.string)}${S.moreCharacters(fmtInt(v.length - limits.string))}`;
    }
    if (v === null || typeof v !== "object") return v;
    if (depth >= limits.depth) {
      cut = true;
      return Array.isArray(v) ? [S.itemsLeft(v.length)] : { "…": S.keysLeft(Object.keys(v).length) };
    }
    if (Array.isArray(v)) {
      const out = v.slice(0, limits.items).map((x) => walk(x, depth + 1));
      if (v.length > limits.items) {
        cut = true;
        out.push(S.moreItems(fmtInt(v.length - limits.items)));
      }
      return out;
    }
    const keys = Object.keys(v);
    const out = {};
    keys.slice(0, limits.items).forEach((k) => {
      out[k] = walk(v[k], depth + 1);
    });
    if (keys.length > limits.items) {
      cut = true;
      out["…"] = S.moreKeys(fmtInt(keys.length - limits.items));
    }
    return out;
  };
  const shown = walk(value, 0);
  return { value: shown, cut };
}

const WIDTH = 76;

/** JSON.stringify(value, null, 2), but what fits on a line stays on one, and lists of numbers or short
 * strings are packed several to a line. */
export function pretty(value, indent = "") {
  const flat = JSON.stringify(value);
  if (flat === undefined) return String(value);
  if (value === null || typeof value !== "object" || indent.length + flat.length <= WIDTH) return flat;
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== "object")) {
      const lines = [];
      let line = "";
      for (const item of value.map((v) => JSON.stringify(v))) {
        if (line && inner.length + line.length + item.length + 2 > WIDTH) {
          lines.push(line);
          line = "";
        }
        line = line ? `${line}, ${item}` : item;
      }
      if (line) lines.push(line);
      return `[\n${lines.map((l) => inner + l).join(",\n")}\n${indent}]`;
    }
    return `[\n${value.map((v) => inner + pretty(v, inner)).join(",\n")}\n${indent}]`;
  }
  const keys = Object.keys(value);
  return `{\n${keys.map((k) => `${inner}${JSON.stringify(k)}: ${pretty(value[k], inner)}`).join(",\n")}\n${indent}}`;
}

/** A <pre> of pretty JSON, cut to size, with a button to show it whole when something was cut. */
export function jsonBlock(value, label) {
  const { value: shown, cut } = truncateJson(value);
  const pre = h("pre", { class: "code", tabindex: "0", "aria-label": label }, pretty(shown));
  if (!cut) return pre;
  let whole = false;
  const toggle = h("button", { type: "button", class: "link", "aria-expanded": "false" }, S.showInFull);
  toggle.addEventListener("click", () => {
    whole = !whole;
    pre.textContent = pretty(whole ? value : shown);
    toggle.textContent = whole ? S.showShortened : S.showInFull;
    toggle.setAttribute("aria-expanded", String(whole));
  });
  return h("div", { class: "code-wrap" }, pre, h("p", { class: "cut-note" }, S.shortened, toggle));
}

// ---- one line per job, for lists (issue 17) ----------------------------------------------------------

const BRIEF = { string: 24, items: 4, keys: 4, depth: 2 };

/** A JSON value in a few characters: a long string cut ("Hi…"), long or deep arrays and objects
 * shortened ([1, 2, 3, 4, …], {…}). */
function brief(value, depth = 0) {
  if (typeof value === "string") return JSON.stringify(value.length > BRIEF.string ? `${value.slice(0, BRIEF.string)}…` : value);
  if (value === null || typeof value !== "object") return String(value);
  if (depth >= BRIEF.depth) return Array.isArray(value) ? "[…]" : "{…}";
  if (Array.isArray(value)) {
    const items = value.slice(0, BRIEF.items).map((v) => brief(v, depth + 1));
    if (value.length > BRIEF.items) items.push("…");
    return `[${items.join(", ")}]`;
  }
  const keys = Object.keys(value);
  const items = keys.slice(0, BRIEF.keys).map((k) => `${JSON.stringify(k)}: ${brief(value[k], depth + 1)}`);
  if (keys.length > BRIEF.keys) items.push("…");
  return `{${items.join(", ")}}`;
}

/** A job's arguments written as a call, `("a@b.c", subject="Hi…")`, at most `max` characters. */
export function callSummary(args, kwargs, max = 90) {
  const parts = (Array.isArray(args) ? args : []).map((v) => brief(v));
  for (const [name, value] of Object.entries(kwargs && typeof kwargs === "object" ? kwargs : {})) parts.push(`${name}=${brief(value)}`);
  const text = `(${parts.join(", ")})`;
  return text.length > max ? `${text.slice(0, max - 2)}…)` : text;
}

/** An error on one line: "Type: the first line of its message", at most `max` characters. */
export function errorSummary(error, max = 300) {
  if (!error) return "";
  const first = String(error.message || "").split("\n", 1)[0];
  const text = error.type ? `${error.type}: ${first}` : first;
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// ---- badges, toasts and confirmation -----------------------------------------------------------------

export function stateBadge(state) {
  return h("span", { class: `badge state-${String(state).replace(/[^a-z]/g, "")}` }, String(state));
}

/** Run an admin action from its button: disabled meanwhile, a toast says how it went (`done` turns the
 * answer into the message), and `settle` runs after, whatever happened (the page reloads its data). */
export async function runAction(button, work, done, settle) {
  button.disabled = true;
  try {
    const answer = await work();
    if (done) toast(done(answer));
  } catch (err) {
    toast(err.message, "error");
  } finally {
    button.disabled = false;
    settle();
  }
}

let toastTimer = null;

export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  if (!box) return;
  replace(box, h("div", { class: `toast toast-${kind}` }, message));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => clear(box), kind === "error" ? 8000 : 4000);
}

/** A modal <dialog> asking to confirm; resolves true only on the confirm button. Focus starts on Cancel. */
export function confirmDialog({ title, text, confirm, danger = true }) {
  return new Promise((resolve) => {
    const cancelButton = h("button", { type: "button", class: "btn", value: "cancel" }, S.cancel);
    const confirmButton = h(
      "button",
      { type: "button", class: danger ? "btn btn-danger" : "btn btn-primary", value: "ok" },
      confirm,
    );
    const titleId = `dlg-${Math.random().toString(36).slice(2)}`;
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-labelledby": titleId },
      h("h2", { id: titleId }, title),
      h("p", null, text),
      h("div", { class: "dialog-actions" }, cancelButton, confirmButton),
    );
    let answered = false;
    const done = (answer) => {
      if (answered) return;
      answered = true;
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancelButton.addEventListener("click", () => done(false));
    confirmButton.addEventListener("click", () => done(true));
    dialog.addEventListener("close", () => done(false));
    document.body.appendChild(dialog);
    dialog.showModal();
    cancelButton.focus();
  });
}
