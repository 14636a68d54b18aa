// A small SVG line chart for the enrollment trend: no library, no network, readable by screen readers
// through its title, description and the data table shown next to it.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f5f99", "#c2410c", "#15803d", "#7e22ce", "#b45309", "#0e7490", "#be123c", "#4d7c0f"];
  const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

  function el(name, attrs, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function monthLabel(key) {
    const [year, month] = key.split("-");
    return MONTHS[Number(month) - 1] + " " + year.slice(2);
  }

  // Round axis steps (1, 2, 5 x 10^n) so the grid lines fall on readable numbers.
  function niceStep(max, ticks) {
    const raw = Math.max(max, 1) / ticks;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const unit = raw / power;
    return (unit <= 1 ? 1 : unit <= 2 ? 2 : unit <= 5 ? 5 : 10) * power;
  }

  function line(view) {
    const width = 720, height = 300;
    const pad = { top: 16, right: 20, bottom: 44, left: 52 };
    const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
    const xs = view.x || [];
    const all = (view.series || []).flatMap((s) => s.values);
    const step = niceStep(Math.max(0, ...all), 5);
    const top = Math.max(step, Math.ceil(Math.max(0, ...all) / step) * step);
    const xAt = (i) => pad.left + (xs.length <= 1 ? plotW / 2 : (i * plotW) / (xs.length - 1));
    const yAt = (v) => pad.top + plotH - (v / top) * plotH;

    const first = (view.series[0] || { values: [] }).values;
    const summary = xs.length
      ? `${view.title}: ${xs.length} months from ${monthLabel(xs[0])} to ${monthLabel(xs[xs.length - 1])}` +
        (view.series.length === 1 ? `, from ${first[0]} to ${first[first.length - 1]} ${view.y_label || ""}.` : ".")
      : `${view.title}: no data.`;
    const svg = el("svg", {
      viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart", "aria-labelledby": "", preserveAspectRatio: "xMidYMid meet",
    });
    const id = "chart-" + Math.random().toString(36).slice(2, 9);
    svg.setAttribute("aria-labelledby", `${id}-t ${id}-d`);
    svg.appendChild(el("title", { id: `${id}-t` }, view.title));
    svg.appendChild(el("desc", { id: `${id}-d` }, summary));

    for (let v = 0; v <= top; v += step) {
      const y = yAt(v);
      svg.appendChild(el("line", { x1: pad.left, x2: width - pad.right, y1: y, y2: y, class: "grid" }));
      svg.appendChild(el("text", { x: pad.left - 8, y: y + 4, class: "tick", "text-anchor": "end" }, String(v)));
    }
    const every = Math.max(1, Math.ceil(xs.length / 12));
    xs.forEach((key, i) => {
      if (i % every === 0 || i === xs.length - 1) {
        svg.appendChild(el("text", { x: xAt(i), y: height - pad.bottom + 18, class: "tick", "text-anchor": "middle" }, monthLabel(key)));
      }
    });
    svg.appendChild(el("line", { x1: pad.left, x2: width - pad.right, y1: yAt(0), y2: yAt(0), class: "axis" }));
    svg.appendChild(el("line", { x1: pad.left, x2: pad.left, y1: pad.top, y2: yAt(0), class: "axis" }));

    view.series.forEach((series, s) => {
      const color = COLORS[s % COLORS.length];
      const points = series.values.map((v, i) => `${xAt(i).toFixed(1)},${yAt(v).toFixed(1)}`).join(" ");
      svg.appendChild(el("polyline", { points, fill: "none", stroke: color, "stroke-width": 2.5, class: "series" }));
      series.values.forEach((v, i) => {
        const dot = el("circle", { cx: xAt(i), cy: yAt(v), r: 3.5, fill: color });
        dot.appendChild(el("title", {}, `${series.name}, ${monthLabel(xs[i])}: ${v}`));
        svg.appendChild(dot);
      });
    });

    const figure = document.createElement("figure");
    figure.className = "chart-figure";
    const caption = document.createElement("figcaption");
    caption.textContent = view.title;
    figure.appendChild(caption);
    figure.appendChild(svg);
    if (view.series.length > 1) {
      const legend = document.createElement("ul");
      legend.className = "legend";
      view.series.forEach((series, s) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch";
        swatch.style.background = COLORS[s % COLORS.length];
        item.appendChild(swatch);
        item.appendChild(document.createTextNode(series.name));
        legend.appendChild(item);
      });
      figure.appendChild(legend);
    }
    return figure;
  }

  window.SisChart = { line };
})();
