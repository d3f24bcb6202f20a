// The last hour of a queue as SVG bars: one per minute, succeeded below and failed stacked on top.

import { fmtClock, fmtInt, h, svg, clear, setText } from "./dom.js";
import { S } from "./strings.js";

const BAR = 2; // viewBox units per minute
const HEIGHT = 40;

export function historyTotals(history) {
  let ok = 0;
  let failed = 0;
  let peak = 0;
  for (const [, s, f] of history || []) {
    ok += s;
    failed += f;
    peak = Math.max(peak, s + f);
  }
  return { ok, failed, peak };
}

/** A chart whose `update(history)` redraws it; `el` is the element to place. */
export function historyChart() {
  const plot = svg("svg", {
    class: "chart-svg",
    viewBox: `0 0 ${60 * BAR} ${HEIGHT}`,
    preserveAspectRatio: "none",
    "aria-hidden": "true",
    focusable: "false",
  });
  const peakLabel = h("span", { class: "chart-peak" }, "");
  const summary = h("span", { class: "visually-hidden" }, "");
  const el = h(
    "figure",
    { class: "chart" },
    h("div", { class: "chart-frame" }, peakLabel, plot),
    h(
      "figcaption",
      { class: "chart-axis" },
      h("span", null, S.sixtyMinAgo),
      h(
        "span",
        { class: "legend" },
        h("span", { class: "key key-ok" }, S.succeededWord),
        " ",
        h("span", { class: "key key-failed" }, S.failedWord),
      ),
      h("span", null, S.now),
      summary,
    ),
  );

  function update(history) {
    const rows = Array.isArray(history) ? history.slice(-60) : [];
    const { ok, failed, peak } = historyTotals(rows);
    const top = Math.max(peak, 1);
    clear(plot);
    plot.appendChild(svg("line", { class: "chart-base", x1: 0, x2: 60 * BAR, y1: HEIGHT, y2: HEIGHT }));
    const offset = 60 - rows.length; // fewer than 60 minutes: the newest still sits at the right edge
    rows.forEach(([minute, s, f], i) => {
      if (!s && !f) return;
      const x = (offset + i) * BAR + 0.2;
      const hOk = (s / top) * (HEIGHT - 2);
      const hFail = (f / top) * (HEIGHT - 2);
      const group = svg("g", null, svg("title", null, S.barTitle(fmtClock(minute * 60000), s, f)));
      if (s) group.appendChild(svg("rect", { class: "bar-ok", x, y: HEIGHT - hOk, width: BAR - 0.4, height: hOk }));
      if (f)
        group.appendChild(
          svg("rect", { class: "bar-failed", x, y: HEIGHT - hOk - hFail, width: BAR - 0.4, height: hFail }),
        );
      plot.appendChild(group);
    });
    setText(peakLabel, peak ? S.peakPerMin(fmtInt(peak)) : S.noneLastHour, false);
    setText(summary, S.lastHour(fmtInt(ok), fmtInt(failed), fmtInt(peak)), false);
  }

  return { el, update };
}
