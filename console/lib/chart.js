// Charts with uPlot (canvas). Each chart also offers its numbers as a table, for screen
// readers and for anyone who wants the exact values.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { html } from './html.js';

const HEIGHT = 220;
// Axis ticks: the unit is on the axis label, so numbers alone, with the digits small amounts need.
const tick = new Intl.NumberFormat('en-GB', { maximumSignificantDigits: 6 });

/**
 * A time series: `xs` in seconds since the epoch, `ys` its values. `bars` draws a bar per
 * point (earnings per day) instead of a line with points (prices).
 */
export function TimeChart({ title, xs, ys, unit, bars = false, format = (v) => String(v) }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el || !xs.length) return undefined;
    const plot = new uPlot({
      width: Math.max(el.clientWidth, 280),
      height: HEIGHT,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      // One point (a first day of earnings) would otherwise stretch the axis over years.
      scales: { x: xs.length > 1 ? { time: true } : { time: true, range: () => [xs[0] - (bars ? 86_400 : 3600), xs[0] + (bars ? 86_400 : 3600)] } },
      series: [
        {},
        {
          label: unit, stroke: '#2459c7', width: 2, fill: bars ? 'rgba(36, 89, 199, 0.35)' : undefined,
          points: { show: true, size: 7 }, paths: bars ? uPlot.paths.bars({ size: [0.6, 60] }) : undefined,
        },
      ],
      // Tick labels as the numbers are shown elsewhere (small amounts would all read 0).
      axes: [{}, { label: unit, size: 90, values: (_u, ticks) => ticks.map((v) => tick.format(v)) }],
    }, [xs, ys], el);
    // The chart follows its column's width (phones, a rotated screen).
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(el.clientWidth, 280), height: HEIGHT }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [xs, ys]);
  if (!xs.length) return html`<figure class="chart"><figcaption>${title}</figcaption><p class="muted">No points yet.</p></figure>`;
  return html`<figure class="chart" data-points=${xs.length}>
    <figcaption>${title}</figcaption>
    <div ref=${box} class="chart-box" role="img" aria-label=${`${title}: ${xs.length} points`}></div>
    <details>
      <summary>The numbers</summary>
      <table><thead><tr><th scope="col">When</th><th scope="col">${unit}</th></tr></thead>
        <tbody>${xs.map((x, i) => html`<tr><td>${new Date(x * 1000).toLocaleString('en-GB')}</td><td>${format(ys[i])}</td></tr>`)}</tbody>
      </table>
    </details>
  </figure>`;
}
