// A line chart as a standalone SVG string: no dependencies, no scripts, no external fonts, so
// it renders the same in a browser and on GitHub. Logarithmic y axis: the launchers differ by
// more than an order of magnitude.

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#7f7f7f', '#ff7f0e'];

const escape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function logTicks(lo, hi) {
  const ticks = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

/**
 * series: [{label, points: [{x, y, lo, hi}]}] (lo/hi: the spread, drawn as a bar).
 * xTicks: [{value, label}]. Returns the SVG text.
 */
export function lineChart({ title, subtitle, xLabel, yLabel, xTicks, series, width = 760, height = 460 }) {
  const margin = { top: 58, right: 250, bottom: 56, left: 70 };
  const plotW = width - margin.left - margin.right;
  const plotH = height - margin.top - margin.bottom;
  const ys = series.flatMap((s) => s.points.flatMap((p) => [p.y, p.lo ?? p.y, p.hi ?? p.y])).filter((v) => v > 0);
  const yLo = 10 ** Math.floor(Math.log10(Math.min(...ys)));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...ys)));
  const xs = xTicks.map((t) => t.value);
  const xLo = Math.min(...xs);
  const xHi = Math.max(...xs);
  const px = (x) => margin.left + ((x - xLo) / (xHi - xLo || 1)) * plotW;
  const py = (y) => margin.top + plotH - ((Math.log10(y) - Math.log10(yLo)) / (Math.log10(yHi) - Math.log10(yLo))) * plotH;
  const f = (n) => n.toFixed(1);

  const out = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  out.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(`<text x="${margin.left}" y="24" font-size="16" font-weight="bold">${escape(title)}</text>`);
  if (subtitle) out.push(`<text x="${margin.left}" y="42" fill="#555">${escape(subtitle)}</text>`);
  for (const v of logTicks(yLo, yHi)) {
    out.push(`<line x1="${margin.left}" x2="${margin.left + plotW}" y1="${f(py(v))}" y2="${f(py(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${margin.left - 8}" y="${f(py(v) + 4)}" text-anchor="end">${v >= 1 ? v : v.toPrecision(1)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${f(px(t.value))}" x2="${f(px(t.value))}" y1="${margin.top}" y2="${margin.top + plotH}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${f(px(t.value))}" y="${margin.top + plotH + 18}" text-anchor="middle">${escape(t.label)}</text>`);
  }
  out.push(`<rect x="${margin.left}" y="${margin.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#888"/>`);
  out.push(`<text x="${margin.left + plotW / 2}" y="${height - 12}" text-anchor="middle">${escape(xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${margin.top + plotH / 2}) rotate(-90)" text-anchor="middle">${escape(yLabel)}</text>`);

  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter((p) => p.y > 0);
    if (pts.length === 0) return;
    out.push(`<g stroke="${color}" fill="${color}">`);
    out.push(`<polyline fill="none" stroke-width="2" points="${pts.map((p) => `${f(px(p.x))},${f(py(p.y))}`).join(' ')}"/>`);
    for (const p of pts) {
      if (p.lo !== undefined && p.hi !== undefined && p.hi > p.lo) {
        out.push(`<line x1="${f(px(p.x))}" x2="${f(px(p.x))}" y1="${f(py(p.hi))}" y2="${f(py(p.lo))}" stroke-width="1.5"/>`);
        for (const y of [p.lo, p.hi])
          out.push(`<line x1="${f(px(p.x) - 4)}" x2="${f(px(p.x) + 4)}" y1="${f(py(y))}" y2="${f(py(y))}" stroke-width="1.5"/>`);
      }
      out.push(
        `<circle cx="${f(px(p.x))}" cy="${f(py(p.y))}" r="3.5"><title>${escape(`${s.label}: ${p.y.toFixed(3)} ms`)}</title></circle>`,
      );
    }
    out.push('</g>');
    const ly = margin.top + 10 + i * 22;
    const lx = margin.left + plotW + 16;
    out.push(`<line x1="${lx}" x2="${lx + 22}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"/>`);
    out.push(`<circle cx="${lx + 11}" cy="${ly}" r="3.5" fill="${color}"/>`);
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${escape(s.label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
