// A team's view: its quota, usage and borrowing; its queue in admission order with each job's
// position, pending reason and ETA; its running jobs with replica status; its latest finished.
import { get, remove, teamPath } from "../api.js";
import { Bar, LiveBadge, ProblemBox, Section, Status, useTeamEvents } from "../components.js";
import {
  ACTIVE, FINISHED, bytes, cores, demand, quantity, seconds, time,
} from "../format.js";
import { html, useState } from "../lib.js";

const jobLink = (team, job) => `#/teams/${encodeURIComponent(team)}/jobs/${job.id}`;

function Quota({ view }) {
  const amount = (key, from) => (from ? quantity(from[key]) : null);
  const limit = (key) => {
    const extra = amount(key, view.borrowing_limit);
    return view.borrowing_limit && extra !== null ? amount(key, view.quota) + extra : null;
  };
  return html`<div class="bars">
    <${Bar} label="jobs" used=${view.usage.jobs} quota=${view.quota.max_running_jobs} />
    <${Bar} label="cpu" used=${amount("cpu", view.usage)} quota=${amount("cpu", view.quota)}
      limit=${limit("cpu")} show=${cores} />
    <${Bar} label="memory" used=${amount("memory", view.usage)}
      quota=${amount("memory", view.quota)} limit=${limit("memory")} show=${bytes} />
    <${Bar} label="gpu" used=${view.usage.gpu} quota=${view.quota.gpu} limit=${limit("gpu")} />
    <p class="hint">${`weight ${view.weight} · share ${view.share.toFixed(3)} · `
      + `${view.queued} queued · ${view.running} running · `
      + `oldest wait ${seconds(view.oldest_wait_seconds)} · `}${view.borrowing_limit ? `may borrow cpu ${view.borrowing_limit.cpu ?? "∞"}, memory
        ${view.borrowing_limit.memory ?? "∞"}, gpu ${view.borrowing_limit.gpu ?? "∞"}`
        : "may not borrow"}</p>
  </div>`;
}

function Queue({ team, jobs, onCancel }) {
  if (!jobs.length) return html`<p class="empty" data-testid="queue-empty">Nothing queued.</p>`;
  return html`<table data-testid="queue">
    <thead><tr><th>#</th><th>job</th><th>priority</th><th>why it waits</th><th>ETA</th>
      <th>waiting</th><th>demand</th><th></th></tr></thead>
    <tbody>${jobs.map((job) => html`<tr data-testid=${`queued-${job.id}`}>
      <td>${job.position}${job.global_position !== null ? html` <small>(${job.global_position} overall)</small>` : ""}</td>
      <td><a href=${jobLink(team, job)}>${job.id} · ${job.name}</a></td>
      <td>${job.priority}</td>
      <td><strong data-testid="reason">${job.pending_reason || "admissible now"}</strong>
        <div class="hint">${job.message}</div></td>
      <td>${seconds(job.eta_seconds)}</td>
      <td>${seconds(job.wait_seconds)}</td>
      <td>${demand(job.demand)}</td>
      <td><button class="small" onClick=${() => onCancel(job.id)}>Cancel</button></td>
    </tr>`)}</tbody>
  </table>`;
}

function replicaText(record) {
  return Object.entries(record.replicas || {})
    .map(([kind, c]) => `${kind} ${c.active} active, ${c.succeeded} ok, ${c.failed} failed`)
    .join(" · ") || "no pods yet";
}

function Jobs({ team, jobs, testid, empty }) {
  if (!jobs.length) return html`<p class="empty">${empty}</p>`;
  return html`<table data-testid=${testid}>
    <thead><tr><th>job</th><th>status</th><th>replicas</th><th>reason</th><th>since</th></tr></thead>
    <tbody>${jobs.map((job) => html`<tr data-testid=${`job-${job.id}`}>
      <td><a href=${jobLink(team, job)}>${job.id} · ${job.name}</a></td>
      <td><${Status} status=${job.status} /></td>
      <td>${replicaText(job)}</td>
      <td>${job.reason || ""}</td>
      <td>${time(job.finished_at || job.started_at || job.admitted_at || job.submitted_at)}</td>
    </tr>`)}</tbody>
  </table>`;
}

export function TeamView({ team }) {
  const [view, setView] = useState(null);
  const [jobs, setJobs] = useState([]);
  const [problem, setProblem] = useState(null);

  async function load() {
    try {
      const [queue, list] = await Promise.all([
        get(teamPath(team, "/queue")), get(teamPath(team, "/jobs"), { params: { limit: 100 } }),
      ]);
      setView(queue);
      setJobs(list.items);
      setProblem(null);
    } catch (error) {
      setProblem(error);
    }
  }
  const live = useTeamEvents(team, load);

  async function cancel(id) {
    try {
      await remove(teamPath(team, `/jobs/${id}`));
    } catch (error) {
      setProblem(error);
    }
  }

  return html`<div data-testid="team-view">
    <h2>Team ${team} <${LiveBadge} state=${live} />
      <a class="aside" href=${`#/teams/${encodeURIComponent(team)}/runs`}>compare runs →</a></h2>
    <${ProblemBox} problem=${problem} />
    ${view && html`
      <${Section} title="Quota, usage and borrowing" testid="quota"><${Quota} view=${view} /><//>
      <${Section} title=${`Queue (${view.queued})`} testid="queue-panel">
        <${Queue} team=${team} jobs=${view.jobs} onCancel=${cancel} /><//>
      <${Section} title="Running" testid="running-panel">
        <${Jobs} team=${team} testid="running" empty="Nothing running."
          jobs=${jobs.filter((j) => ACTIVE.has(j.status))} /><//>
      <${Section} title="Finished lately" testid="finished-panel">
        <${Jobs} team=${team} testid="finished" empty="Nothing finished yet."
          jobs=${jobs.filter((j) => FINISHED.has(j.status) || j.status === "suspended").slice(0, 20)} /><//>`}
  </div>`;
}
