// Pieces every view uses: a problem's display, status and connection badges, usage bars,
// a uPlot line chart, and the hook that keeps a view current from its team's event stream.
import uPlot from "../vendor/uPlot.esm.js";
import { teamPath } from "./api.js";
import { html, useEffect, useRef, useState } from "./lib.js";
import { subscribe } from "./stream.js";

export function ProblemBox({ problem }) {
  if (!problem) return null;
  const status = problem.status ? `${problem.status} ` : "";
  return html`<div class="problem" role="alert" data-testid="problem">
    <strong>${status}${problem.title}</strong>
    ${problem.detail && html`<span> — ${problem.detail}</span>`}
    ${problem.errors?.length > 0 && html`<ul>
      ${problem.errors.map((e) => html`<li><code>${e.field}</code>: ${e.message}</li>`)}
    </ul>`}
  </div>`;
}

export function Status({ status }) {
  return html`<span class=${`status status-${status}`} data-testid="status">${status}</span>`;
}

const LIVE_TEXT = {
  connecting: "connecting…", live: "live", reconnecting: "reconnecting…", refused: "no stream",
};

export function LiveBadge({ state }) {
  return html`<span class=${`live live-${state}`} data-testid="live"
    title="Updates arrive over the team's event stream">${LIVE_TEXT[state] || state}</span>`;
}

// used of limit; the part above `quota` (borrowed) drawn apart. Numbers, same unit.
export function Bar({ label, used, quota, limit, show = String }) {
  const top = Math.max(limit ?? quota ?? 0, used ?? 0, 1e-9);
  const within = Math.min(used ?? 0, quota ?? used ?? 0);
  const over = Math.max((used ?? 0) - (quota ?? used ?? 0), 0);
  const pct = (v) => `${Math.min(100, (100 * v) / top).toFixed(2)}%`;
  const text = `${show(used ?? 0)} of ${quota === null || quota === undefined ? "∞" : show(quota)}`
    + (over > 0 ? ` (borrowing ${show(over)})` : "")
    + (limit !== null && limit !== undefined && limit !== quota ? `, up to ${show(limit)}` : "");
  return html`<div class="bar" data-testid=${`bar-${label}`}>
    <span class="bar-label">${label}</span>
    <span class="bar-track">
      <span class="bar-used" style=${{ width: pct(within) }}></span>
      <span class="bar-borrowed" style=${{ width: pct(over) }}></span>
      ${quota !== null && quota !== undefined && limit !== null && limit !== undefined
        && limit > quota && html`<span class="bar-quota" style=${{ left: pct(quota) }}></span>`}
    </span>
    <span class="bar-text">${text}</span>
  </div>`;
}

const COLORS = ["#2f6fde", "#d9480f", "#2b8a3e", "#ae3ec9", "#e8590c", "#1098ad", "#5c7cfa"];

// A line chart of series over x (epochs); values may be null (gaps).
export function Chart({ title, x, series, testid }) {
  const box = useRef(null);
  const data = JSON.stringify([x, series]);
  useEffect(() => {
    const element = box.current;
    if (!element || !x.length) return undefined;
    const plot = new uPlot({
      title, width: Math.max(element.clientWidth || 0, 320), height: 220,
      scales: { x: { time: false } },
      legend: { live: false },
      axes: [{ label: "epoch", incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, {}],
      series: [{ label: "epoch" }, ...series.map((s, i) => ({
        label: s.label, stroke: COLORS[i % COLORS.length], width: 2, spanGaps: true,
        points: { show: true },
      }))],
    }, [x, ...series.map((s) => s.values)], element);
    return () => plot.destroy();
  }, [data, title]);
  return html`<div class="chart" ref=${box} data-testid=${testid} data-points=${x.length}></div>`;
}

// Runs `load` now, whenever the team's event stream (re)connects, and shortly after each event
// that `wants` (default: all), coalescing bursts; one load at a time, so an older answer never
// lands after a newer one. Returns the stream's state.
export function useTeamEvents(team, load, wants = () => true) {
  const [state, setState] = useState("connecting");
  const latest = useRef({ load, wants });
  latest.current = { load, wants };
  useEffect(() => {
    let timer = null;
    let running = null;
    let again = false;
    const run = async () => {
      if (running) {
        again = true;
        return;
      }
      running = latest.current.load();
      await running.catch(() => {});
      running = null;
      if (again) {
        again = false;
        run();
      }
    };
    const soon = () => {
      clearTimeout(timer);
      timer = setTimeout(run, 150);
    };
    run();
    const stop = subscribe(teamPath(team, "/events"), {
      onOpen: soon,
      onState: setState,
      onEvent: (event) => {
        if (latest.current.wants(event)) soon();
      },
    });
    return () => {
      clearTimeout(timer);
      stop();
    };
  }, [team]);
  return state;
}

export function Section({ title, children, testid }) {
  return html`<section class="panel" data-testid=${testid}><h3>${title}</h3>${children}</section>`;
}
