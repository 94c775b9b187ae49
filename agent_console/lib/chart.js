// Charts on canvas with uPlot (static/vendor/README.md): a component that makes the plot once,
// gives it new data as it changes (no re-creation: a live chart keeps its size and cursor) and
// follows its box's width. uPlot's CSS is added to the page once, on the first chart.
import uPlot from "/static/vendor/uplot.js";
import { html, useEffect, useRef } from "./html.js";

let styled = false;
function addStyle() {
  if (styled) return;
  styled = true;
  const link = document.createElement("link");
  link.rel = "stylesheet";
  link.href = "/static/vendor/uplot.css";
  document.head.append(link);
}

// `options`: uPlot's (series, axes, scales...; width and height are set here). `data`: uPlot's
// columns, [xs, ys1, ys2, ...]. A new `options` object makes a new plot; new `data` only updates.
export function Chart({ options, data, height = 220, label, testid }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    addStyle();
    const width = Math.max(box.current.clientWidth, 200);
    plot.current = new uPlot({ ...options, width, height }, data, box.current);
    const resized = new ResizeObserver(() => {
      const w = Math.max(box.current ? box.current.clientWidth : 0, 200);
      if (plot.current && w !== plot.current.width) plot.current.setSize({ width: w, height });
    });
    resized.observe(box.current);
    return () => {
      resized.disconnect();
      plot.current.destroy();
      plot.current = null;
    };
  }, [options, height]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data);
  }, [data]);
  return html`<figure class="chart" role="img" aria-label=${label} data-testid=${testid} ref=${box}></figure>`;
}
