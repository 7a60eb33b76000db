// Comparing a team's runs: what made each (image, algorithm, dataset, env) and what it reached
// (final metrics), sorted by any of them; the chosen runs' per-epoch curves on one chart.
// Reloads when one of the team's jobs ends (its event).
import { get, teamPath } from "../api.js";
import { Chart, LiveBadge, ProblemBox, Section, Status, useTeamEvents } from "../components.js";
import { number, plottable } from "../format.js";
import { html, useEffect, useState } from "../lib.js";

const ENDED = new Set(["job.succeeded", "job.failed", "job.cancelled"]);
const MAX_CHOSEN = 6;

function made(run) {
  const parts = [];
  if (run.algorithm) parts.push(`${run.algorithm.name} ${run.algorithm.version}`);
  else if (run.image) parts.push(run.image);
  if (run.dataset) parts.push(`data ${run.dataset.id}@${run.dataset.version_hash}`);
  const env = Object.entries(run.env || {}).map(([k, v]) => `${k}=${v}`).join(" ");
  if (env) parts.push(env);
  return parts.join(" · ");
}

function Curves({ team, chosen }) {
  const [series, setSeries] = useState({});
  const [metric, setMetric] = useState("val_accuracy");
  useEffect(() => {
    let gone = false;
    Promise.all(chosen.map((id) => get(teamPath(team, `/jobs/${id}/metrics`)).catch(() => null)))
      .then((answers) => {
        if (!gone) setSeries(Object.fromEntries(answers.filter(Boolean).map((m) => [m.job_id, m])));
      });
    return () => {
      gone = true;
    };
  }, [team, chosen.join(",")]);
  const runs = Object.values(series);
  const keys = [...new Set(runs.flatMap((m) => m.epochs.flatMap((p) => Object.keys(p.values))))];
  if (!runs.length || !keys.length) {
    return html`<p class="empty" data-testid="compare-empty">Choose runs that reported epochs.</p>`;
  }
  const key = keys.includes(metric) ? metric : keys[0];
  const x = [...new Set(runs.flatMap((m) => m.epochs.map((p) => p.epoch)))].sort((a, b) => a - b);
  const lines = runs.map((m) => {
    const at = Object.fromEntries(m.epochs.map((p) => [p.epoch, plottable(p.values[key])]));
    return { label: `job ${m.job_id}`, values: x.map((e) => at[e] ?? null) };
  });
  return html`<div>
    <label>Metric <select value=${key} onChange=${(e) => setMetric(e.target.value)}>
      ${keys.map((k) => html`<option value=${k}>${k}</option>`)}</select></label>
    <${Chart} title=${key} x=${x} series=${lines} testid="compare-chart" />
  </div>`;
}

export function RunsView({ team }) {
  const [answer, setAnswer] = useState(null);
  const [problem, setProblem] = useState(null);
  const [sort, setSort] = useState("-id");
  const [algorithm, setAlgorithm] = useState("");
  const [chosen, setChosen] = useState(null);

  async function load() {
    try {
      const got = await get(teamPath(team, "/runs"), { params: { sort, algorithm, limit: 100 } });
      setAnswer(got);
      setProblem(null);
      setChosen((now) => now ?? got.items.filter((r) => r.epochs_reported > 0)
        .slice(0, 3).map((r) => r.id));
    } catch (error) {
      setProblem(error);
    }
  }
  const live = useTeamEvents(team, load, (event) => ENDED.has(event.type));
  useEffect(() => {
    load();
  }, [sort, algorithm]);

  const runs = answer?.items || [];
  const finals = [...new Set(runs.flatMap((r) => Object.keys(r.final || {})))].slice(0, 6);
  const picked = chosen || [];
  const toggle = (id) => setChosen(picked.includes(id) ? picked.filter((i) => i !== id)
    : [...picked, id].slice(-MAX_CHOSEN));
  return html`<div data-testid="runs-view">
    <h2>Runs of team ${team} <${LiveBadge} state=${live} />
      <a class="aside" href=${`#/teams/${encodeURIComponent(team)}`}>← team ${team}</a></h2>
    <${ProblemBox} problem=${problem} />
    <div class="filters">
      <label>Sort <select value=${sort} onChange=${(e) => setSort(e.target.value)}>
        ${["-id", "id", "-finished_at", ...finals.flatMap((k) => [`-${k}`, k])]
          .map((k) => html`<option value=${k}>${k}</option>`)}</select></label>
      <label>Algorithm <input value=${algorithm} placeholder="any"
        onChange=${(e) => setAlgorithm(e.target.value.trim())} /></label>
      ${answer && html`<span class="hint">${runs.length} runs of the newest ${answer.scanned} jobs</span>`}
    </div>
    <${Section} title="Runs" testid="runs-panel">
      ${runs.length ? html`<table data-testid="runs"><thead><tr><th></th><th>run</th><th>status</th>
        <th>what made it</th>${finals.map((k) => html`<th>${k}</th>`)}<th>epochs</th></tr></thead>
        <tbody>${runs.map((r) => html`<tr data-testid=${`run-${r.id}`}>
          <td><input type="checkbox" checked=${picked.includes(r.id)} onChange=${() => toggle(r.id)}
            aria-label=${`compare run ${r.id}`} /></td>
          <td><a href=${`#/teams/${encodeURIComponent(team)}/jobs/${r.id}`}>${r.id} · ${r.name}</a></td>
          <td><${Status} status=${r.status} /></td>
          <td class="made">${made(r)}</td>
          ${finals.map((k) => html`<td>${number(r.final?.[k])}</td>`)}
          <td>${r.epochs_reported}</td></tr>`)}</tbody></table>`
        : html`<p class="empty">No runs yet.</p>`}
    <//>
    <${Section} title="Compare" testid="compare-panel"><${Curves} team=${team} chosen=${picked} /><//>
  </div>`;
}
