// The filter bar of a queue's job list (issue 17). The filters are the server's (`GET M/{queue}/jobs?task=
// &q=&request_id=&error=&since=&until=`): they live in the page's address, so a filtered list reloads,
// goes back and can be shared; the server searches a bounded part of the index per request, and the note
// under the bar says how far it went, with a button to search further.

import { fmtInt, h, replace, toMillis } from "./dom.js";
import { S } from "./strings.js";

export const FILTERS = ["task", "q", "request_id", "error", "since", "until"];
const FIELDS = [
  // [name, label, placeholder, input type]
  ["task", S.task, S.filterExample.task, "text"],
  ["q", S.argumentsContain, S.filterExample.q, "text"],
  ["request_id", S.requestId, "", "text"],
  ["error", S.errorType, S.filterExample.error, "text"],
  ["since", S.filterFrom, "", "datetime-local"],
  ["until", S.filterBefore, "", "datetime-local"],
];

/** The filters that an address's query gives (those with a value). */
export function readFilters(query) {
  const out = {};
  for (const name of FILTERS) {
    const value = (query.get(name) || "").trim();
    if (value) out[name] = value;
  }
  return out;
}

export const hasFilters = (filters) => Object.keys(filters).length > 0;

const two = (n) => String(n).padStart(2, "0");

// <input type="datetime-local"> holds a local time without its zone; the API wants a moment (ISO 8601 with
// an offset). The page sends UTC ("…Z") and shows it back in the browser's zone.
function toLocalInput(value) {
  const ms = toMillis(value);
  if (ms === null) return "";
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
}

function fromLocalInput(value) {
  const ms = value ? new Date(value).getTime() : NaN;
  return Number.isNaN(ms) ? "" : new Date(ms).toISOString();
}

/** "task mail.send, arguments contain “ann”": the filters in words, for confirmations. */
export function describeFilters(filters) {
  return FIELDS.filter(([name]) => filters[name])
    .map(([name, label]) => (name === "since" || name === "until" ? `${label.toLowerCase()} ${new Date(filters[name]).toLocaleString()}` : `${label.toLowerCase()} “${filters[name]}”`))
    .join(", ");
}

/** The bar: `onApply(filters)` with the filters to show (an empty object clears them). */
export function filterBar(onApply) {
  const inputs = {};
  const fields = FIELDS.map(([name, label, placeholder, type]) => {
    const id = `filter-${name}`;
    inputs[name] = h("input", { id, name, type, placeholder: placeholder || null, autocomplete: "off", spellcheck: "false" });
    return h("div", { class: "filter-field" }, h("label", { for: id }, label), inputs[name]);
  });
  const clearButton = h("button", { type: "button", class: "btn", "data-filter": "clear" }, S.clearFilters);
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": S.filterJobs },
    fields,
    h("div", { class: "filter-buttons" }, h("button", { type: "submit", class: "btn btn-primary", "data-filter": "apply" }, S.filterButton), clearButton),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const chosen = {};
    for (const [name, , , type] of FIELDS) {
      const raw = inputs[name].value.trim();
      const value = type === "datetime-local" ? fromLocalInput(raw) : raw;
      if (value) chosen[name] = value;
    }
    onApply(chosen);
  });
  clearButton.addEventListener("click", () => onApply({}));
  return {
    el: form,
    /** Shows `filters` (those of the address) in the fields. */
    show(filters) {
      for (const [name, , , type] of FIELDS) {
        const value = filters[name] || "";
        inputs[name].value = type === "datetime-local" ? toLocalInput(value) : value;
      }
      clearButton.hidden = !hasFilters(filters);
    },
  };
}

/**
 * How far the server's search went, under the bar: "12 matches among 80,000 dead jobs, all searched", or
 * "Searched 5,000 of 80,000 dead jobs: 3 matches so far" with a button that goes on from where it stopped
 * (`further(offset)`). Empty for an unfiltered page.
 */
export function showSearchNote(note, data, further) {
  if (!data || data.searched === undefined) {
    replace(note);
    note.hidden = true;
    return;
  }
  note.hidden = false;
  const matches = S.matches(data.items.length);
  const of = S.stateJobs(data.total, data.state);
  if (data.next === null) {
    replace(note, data.offset ? S.toTheEnd(matches, fmtInt(data.offset), of) : S.allSearched(matches, of));
    return;
  }
  const button = h("button", { type: "button", class: "btn btn-small", "data-filter": "further" }, S.searchFurther);
  button.addEventListener("click", () => further(data.next));
  const page = data.items.length >= data.limit ? S.pageFull : S.soFar(matches);
  replace(note, S.searched(fmtInt(data.offset + data.searched), of, page), button);
}
