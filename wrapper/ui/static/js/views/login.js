// The token is typed once: kept in this tab's sessionStorage (gone when the tab closes), sent
// only as the Authorization header. A team token opens its team; the admin token every team.
import { Problem, clearSession, get, saveSession, teamPath } from "../api.js";
import { ProblemBox } from "../components.js";
import { html, useState } from "../lib.js";

async function isAdmin() {
  try {
    await get("/v1/queues");
    return true;
  } catch (error) {
    if (error.status === 404) return false;
    throw error;
  }
}

export function Login({ onLogin }) {
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);

  async function submit(event) {
    event.preventDefault();
    const form = new FormData(event.target);
    const token = String(form.get("token") || "").trim();
    const team = String(form.get("team") || "").trim();
    setBusy(true);
    setProblem(null);
    saveSession({ token, team: team || null, admin: false });
    try {
      const admin = await isAdmin();
      if (team) await get(teamPath(team, "/queue"), { params: { limit: 1 } });
      else if (!admin) throw new Problem(422, "Team needed", "Name the team this token is for.");
      saveSession({ token, team: team || null, admin });
      onLogin(team ? `#/teams/${encodeURIComponent(team)}` : "#/admin");
    } catch (error) {
      clearSession();
      setProblem(error);
    } finally {
      setBusy(false);
    }
  }

  return html`<form class="panel login" onSubmit=${submit} data-testid="login">
    <h2>Sign in</h2>
    <label>Team <input name="team" autocomplete="username" placeholder="alpha (empty: admin)" /></label>
    <label>Token <input name="token" type="password" autocomplete="current-password" required /></label>
    <p class="hint">Kept for this browser tab only (sessionStorage), never put in a URL.</p>
    <button type="submit" disabled=${busy}>Sign in</button>
    <${ProblemBox} problem=${problem} />
  </form>`;
}
