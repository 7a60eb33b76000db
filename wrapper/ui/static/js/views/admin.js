// The admin overview: every team's quota, usage, borrowing, share and queue, the cluster's
// capacity, and each pool's nodes with their free room (GET /v1/queues, the admin token);
// preemptions summed over each team's newest jobs (its job list).
// No stream spans every team (each team has its own, and an API process serves few at once),
// so this page reloads when asked; a team's own view is live.
import { get, teamPath } from "../api.js";
import { Bar, ProblemBox, Section } from "../components.js";
import { bytes, cores, quantity, seconds } from "../format.js";
import { html, useEffect, useState } from "../lib.js";

function Resources({ used, capacity }) {
  return html`<div class="bars">
    <${Bar} label="cpu" used=${quantity(used.cpu)} quota=${quantity(capacity?.cpu)} show=${cores} />
    <${Bar} label="memory" used=${quantity(used.memory)} quota=${quantity(capacity?.memory)}
      show=${bytes} />
    <${Bar} label="gpu" used=${used.gpu} quota=${capacity?.gpu ?? null} />
  </div>`;
}

function Pools({ pools }) {
  if (!pools) return html`<p class="empty">The nodes' free room is not known yet.</p>`;
  return pools.map((pool) => html`<div class="pool">
    <h4>Pool of ${pool.teams.join(", ") || "no team"}</h4>
    <table><thead><tr><th>node</th><th>cpu free / allocatable</th><th>memory</th><th>gpu</th>
      <th>pods free</th></tr></thead>
    <tbody>${pool.nodes.map((n) => html`<tr><td>${n.name}</td>
      <td>${n.free.cpu} / ${n.allocatable.cpu}</td><td>${n.free.memory} / ${n.allocatable.memory}</td>
      <td>${n.free.gpu} / ${n.allocatable.gpu}</td><td>${n.free_pods}</td></tr>`)}</tbody></table>
  </div>`);
}

const RECENT = 100;

function borrowed(amounts) {
  const parts = Object.entries(amounts).filter(([, v]) => v && quantity(v) > 0)
    .map(([k, v]) => `${k} ${v}`);
  return parts.length ? parts.join(", ") : "—";
}

export function AdminView() {
  const [all, setAll] = useState(null);
  const [preempted, setPreempted] = useState({});
  const [problem, setProblem] = useState(null);
  async function load() {
    try {
      const got = await get("/v1/queues");
      setAll(got);
      setProblem(null);
      const lists = await Promise.all(got.teams.map((t) => get(teamPath(t.team, "/jobs"),
        { params: { limit: RECENT } }).catch(() => null)));
      setPreempted(Object.fromEntries(got.teams.map((t, i) => [t.team, lists[i]
        ? lists[i].items.reduce((sum, job) => sum + job.preemptions, 0) : null])));
    } catch (error) {
      setProblem(error);
    }
  }
  useEffect(() => {
    load();
  }, []);
  return html`<div data-testid="admin-view">
    <h2>Every team <button class="small" onClick=${load}>Reload</button></h2>
    <${ProblemBox} problem=${problem} />
    ${all && html`
      <${Section} title="Cluster" testid="cluster">
        <${Resources} used=${all.used} capacity=${all.capacity} />
        <p class="hint">admissions: ${all.admission_rate_per_minute ?? "—"} a minute</p><//>
      <${Section} title="Teams" testid="teams">
        <table><thead><tr><th>team</th><th>usage of quota</th><th>borrowed</th>
          <th>share</th><th>queued</th><th>running</th><th>oldest wait</th>
          <th title=${`over its newest ${RECENT} jobs`}>preemptions</th></tr></thead>
        <tbody>${all.teams.map((t) => html`<tr data-testid=${`team-${t.team}`}>
          <td><a href=${`#/teams/${encodeURIComponent(t.team)}`}>${t.team}</a></td>
          <td>
            <${Bar} label="jobs" used=${t.usage.jobs} quota=${t.quota.max_running_jobs} />
            <${Bar} label="cpu" used=${quantity(t.usage.cpu)} quota=${quantity(t.quota.cpu)}
              show=${cores} />
            <${Bar} label="gpu" used=${t.usage.gpu} quota=${t.quota.gpu} />
          </td>
          <td>${borrowed(t.borrowed)}</td>
          <td>${t.share.toFixed(3)}</td><td>${t.queued}</td><td>${t.running}</td>
          <td>${seconds(t.oldest_wait_seconds)}</td>
          <td data-testid="preemptions">${preempted[t.team] ?? "—"}</td></tr>`)}</tbody></table><//>
      <${Section} title="Pools and nodes" testid="pools"><${Pools} pools=${all.pools} /><//>`}
  </div>`;
}
