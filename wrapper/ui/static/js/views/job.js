// A job's page: where it waits (position, reason, ETA) or how it runs (replicas), the timeline
// of its conditions, its training metrics charted as they come, its log followed, and the
// team's actions on it. It reloads on the team's events about this job; while it runs, each
// new log line also refreshes the charts (the trainer reports an epoch as it logs it).
import { authHeaders, get, post, problemOf, remove, teamPath, url } from "../api.js";
import { Chart, LiveBadge, ProblemBox, Section, Status, useTeamEvents } from "../components.js";
import { FINISHED, number, plottable, seconds, time } from "../format.js";
import { html, useEffect, useRef, useState } from "../lib.js";
import { readText } from "../stream.js";

const LOG_LINES = 500;
const LIVE = new Set(["running", "restarting", "cancelling"]);

function Waiting({ job }) {
  return html`<div class="waiting" data-testid="waiting">
    <div>Position <strong data-testid="position">${job.position ?? "—"}</strong> in the team's
      queue${job.global_position !== null && job.global_position !== undefined
        ? ` (${job.global_position} among all teams)` : ""}, ETA ${seconds(job.eta_seconds)}</div>
    <div>Waiting: <strong data-testid="pending-reason">${job.pending_reason
      || "admissible now"}</strong> <span class="hint">${job.message || ""}</span></div>
  </div>`;
}

function Actions({ job, act }) {
  const done = FINISHED.has(job.status);
  const canSuspend = ["queued", "created", "running", "restarting"].includes(job.status);
  return html`<div class="actions">
    <button data-testid="cancel" disabled=${done || job.status === "cancelling"}
      onClick=${() => act("cancel")}>Cancel</button>
    <button data-testid="suspend" disabled=${!canSuspend} onClick=${() => act("suspend")}>Suspend</button>
    <button data-testid="resume" disabled=${job.status !== "suspended"}
      onClick=${() => act("resume")}>Resume</button>
  </div>`;
}

function Timeline({ job }) {
  // Conditions carry whole seconds, trainq's own times milliseconds: order by the second, then
  // by the order a job's life takes.
  const steps = [
    { at: job.submitted_at, what: "Submitted", rank: 0 },
    { at: job.admitted_at, what: "Admitted", rank: 1 },
    ...job.conditions.map((c) => ({
      at: c.last_transition_time, rank: 2,
      what: `${c.type}${c.status === "True" ? "" : ` (condition ${c.status})`}`,
      detail: [c.reason, c.message].filter(Boolean).join(": "),
    })),
    { at: job.started_at, what: "Started", rank: 3 },
    { at: job.suspended_at, what: "Suspended", rank: 4 },
    { at: job.finished_at, what: "Finished", rank: 5 },
  ].filter((s) => s.at)
    .map((s) => ({ ...s, second: Math.floor(Date.parse(s.at) / 1000) }))
    .sort((a, b) => a.second - b.second || a.rank - b.rank);
  return html`<ol class="timeline" data-testid="timeline">${steps.map((s) => html`<li>
    <time>${time(s.at)}</time> <strong>${s.what}</strong>
    ${s.detail && html`<div class="hint">${s.detail}</div>`}</li>`)}</ol>`;
}

function Replicas({ job }) {
  const expected = { Master: 1, Worker: job.spec?.workers ?? 0 };
  const kinds = Object.keys(expected)
    .filter((k) => expected[k] > 0 || Object.values(job.replicas[k] || {}).some(Boolean));
  return html`<table data-testid="replicas"><thead><tr><th>replica</th><th>wanted</th>
    <th>active</th><th>succeeded</th><th>failed</th></tr></thead>
    <tbody>${kinds.map((kind) => {
      const c = job.replicas[kind] || { active: 0, succeeded: 0, failed: 0 };
      return html`<tr><td>${kind}</td><td>${expected[kind]}</td><td>${c.active}</td>
        <td>${c.succeeded}</td><td>${c.failed}</td></tr>`;
    })}</tbody></table>`;
}

function Metrics({ metrics }) {
  const epochs = metrics?.epochs || [];
  if (!epochs.length) {
    return html`<p class="empty" data-testid="charts-empty">No training metrics reported
      ${metrics && FINISHED.has(metrics.status) ? "by this run" : "yet"}.</p>`;
  }
  const x = epochs.map((p) => p.epoch);
  const keys = [...new Set(epochs.flatMap((p) => Object.keys(p.values)))];
  const series = (pick) => keys.filter(pick)
    .map((k) => ({ label: k, values: epochs.map((p) => plottable(p.values[k])) }));
  const loss = series((k) => /loss/.test(k));
  const accuracy = series((k) => /acc|precision|recall|f1/.test(k));
  const final = Object.entries(metrics.final || {});
  return html`<div class="charts" data-testid="charts">
    ${loss.length > 0 && html`<${Chart} title="loss" x=${x} series=${loss} testid="chart-loss" />`}
    ${accuracy.length > 0 && html`<${Chart} title="accuracy" x=${x} series=${accuracy}
      testid="chart-accuracy" />`}
    ${final.length > 0 && html`<table class="final" data-testid="final"><tbody>
      ${final.map(([k, v]) => html`<tr><td>${k}</td><td>${number(v)}</td></tr>`)}</tbody></table>`}
  </div>`;
}

function LogTail({ team, job, onProgress }) {
  const [replica, setReplica] = useState("Master:0");
  const [text, setText] = useState("");
  const [note, setNote] = useState(null);
  const phase = FINISHED.has(job.status) || job.status === "suspended" ? "ended"
    : LIVE.has(job.status) ? "live" : "waiting";
  const pre = useRef(null);
  useEffect(() => {
    setText("");
    if (phase === "waiting") {
      setNote({ title: "The log starts when the job's pods do." });
      return undefined;
    }
    const controller = new AbortController();
    const [kind, index] = replica.split(":");
    const params = { replica: kind, index, tail: 200, follow: phase === "live" ? "true" : "false" };
    (async () => {
      const response = await fetch(url(teamPath(team, `/jobs/${job.id}/logs`), params), {
        headers: authHeaders(), signal: controller.signal, cache: "no-store",
      });
      if (!response.ok) {
        setNote(await problemOf(response));
        return;
      }
      setNote({ title: phase === "live" ? "following" : "as kept",
        detail: response.headers.get("Trainq-Log-Source") });
      let kept = "";
      await readText(response, (chunk) => {
        kept = (kept + chunk).split("\n").slice(-LOG_LINES).join("\n");
        setText(kept);
        onProgress();
      });
    })().catch((error) => {
      if (error.name !== "AbortError") setNote({ title: "The log stream ended", detail: String(error) });
    });
    return () => controller.abort();
  }, [team, job.id, replica, phase]);
  useEffect(() => {
    if (pre.current) pre.current.scrollTop = pre.current.scrollHeight;
  }, [text]);
  const workers = Array.from({ length: job.spec?.workers ?? 0 }, (_, i) => `Worker:${i}`);
  return html`<div data-testid="log">
    <label>Replica <select value=${replica} onChange=${(e) => setReplica(e.target.value)}>
      ${["Master:0", ...workers].map((r) => html`<option value=${r}>${r.replace(":", " ")}</option>`)}
    </select></label>
    <span class="hint" data-testid="log-note">${note && [note.status, note.title, note.detail]
      .filter(Boolean).join(" · ")}</span>
    <pre class="log" ref=${pre} data-testid="log-text">${text}</pre>
  </div>`;
}

export function JobView({ team, id }) {
  const [job, setJob] = useState(null);
  const [metrics, setMetrics] = useState(null);
  const [problem, setProblem] = useState(null);
  const [actionProblem, setActionProblem] = useState(null);
  const pending = useRef(null);
  const path = teamPath(team, `/jobs/${id}`);

  async function loadMetrics() {
    try {
      setMetrics(await get(`${path}/metrics`));
    } catch (error) {
      if (error.status !== 404) setMetrics(null);
    }
  }
  async function load() {
    try {
      const next = await get(path);
      // Metrics first: a job shown finished never sits beside the charts of a moment before.
      await loadMetrics();
      setJob(next);
      setProblem(null);
    } catch (error) {
      setProblem(error);
    }
  }
  const live = useTeamEvents(team, load, (event) => event.data.job_id === Number(id));
  // A log line, then (soon after) its report: read the metrics a second after the first new
  // line, at most once a second.
  function progress() {
    if (pending.current) return;
    pending.current = setTimeout(() => {
      pending.current = null;
      loadMetrics();
    }, 1000);
  }
  useEffect(() => () => clearTimeout(pending.current), []);
  async function act(action) {
    setActionProblem(null);
    try {
      setJob(action === "cancel" ? await remove(path) : await post(`${path}/${action}`));
    } catch (error) {
      setActionProblem(error);
    }
  }

  return html`<div data-testid="job-view">
    <h2>${job ? `Job ${job.id} · ${job.name}` : `Job ${id}`}
      ${job && html` <${Status} status=${job.status} />`} <${LiveBadge} state=${live} />
      <a class="aside" href=${`#/teams/${encodeURIComponent(team)}`}>← team ${team}</a></h2>
    <${ProblemBox} problem=${problem} />
    ${job && html`
      <p class="hint">${[
        [job.reason, job.message].filter(Boolean).join(" — "),
        job.run_seconds > 0 && `ran ${seconds(job.run_seconds)}`,
        `preempted ${job.preemptions}×`, `suspended ${job.suspensions}×`,
      ].filter(Boolean).join(" · ")}</p>
      ${job.stall && html`<div class="problem">Stalled: ${job.stall.reason} — ${job.stall.message}</div>`}
      <${Actions} job=${job} act=${act} />
      <${ProblemBox} problem=${actionProblem} />
      ${job.status === "queued" && html`<${Waiting} job=${job} />`}
      <div class="columns">
        <${Section} title="Timeline" testid="timeline-panel"><${Timeline} job=${job} /><//>
        <${Section} title="Replicas" testid="replicas-panel"><${Replicas} job=${job} /><//>
      </div>
      <${Section} title="Training metrics" testid="metrics-panel"><${Metrics} metrics=${metrics} /><//>
      <${Section} title="Log" testid="log-panel">
        <${LogTail} team=${team} job=${job} onProgress=${progress} /><//>`}
  </div>`;
}
