// The dashboard's shell: sign-in, a hash router (#/teams/T, #/teams/T/jobs/ID,
// #/teams/T/runs, #/admin) and the navigation. Every datum comes from /v1 with the token.
import { clearSession, session } from "./api.js";
import { html, render, useEffect, useState } from "./lib.js";
import { AdminView } from "./views/admin.js";
import { JobView } from "./views/job.js";
import { Login } from "./views/login.js";
import { RunsView } from "./views/runs.js";
import { TeamView } from "./views/team.js";

function parse(hash) {
  return hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

function Page({ parts, who }) {
  const [first, team, kind, id] = parts;
  if (first === "admin") return html`<${AdminView} />`;
  if (first === "teams" && team && kind === "jobs" && /^\d+$/.test(id || "")) {
    return html`<${JobView} key=${`${team}/${id}`} team=${team} id=${id} />`;
  }
  if (first === "teams" && team && kind === "runs") return html`<${RunsView} key=${team} team=${team} />`;
  if (first === "teams" && team) return html`<${TeamView} key=${team} team=${team} />`;
  location.hash = who.team ? `#/teams/${encodeURIComponent(who.team)}` : "#/admin";
  return null;
}

function App() {
  const [hash, setHash] = useState(location.hash);
  const [who, setWho] = useState(session());
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  const signOut = () => {
    clearSession();
    setWho(null);
  };
  const signedIn = (where) => {
    setWho(session());
    location.hash = where;
    setHash(where);
  };
  return html`<header>
      <h1><a href="#/">trainq</a></h1>
      ${who && html`<nav>
        ${who.team && html`<a href=${`#/teams/${encodeURIComponent(who.team)}`}>team ${who.team}</a>
          <a href=${`#/teams/${encodeURIComponent(who.team)}/runs`}>runs</a>`}
        ${who.admin && html`<a href="#/admin">every team</a>`}
        <button class="small" data-testid="sign-out" onClick=${signOut}>Sign out</button>
      </nav>`}
    </header>
    <main>${who ? html`<${Page} parts=${parse(hash)} who=${who} />`
      : html`<${Login} onLogin=${signedIn} />`}</main>`;
}

const root = document.getElementById("app");
root.replaceChildren(); // the "Loading…" line
render(html`<${App} />`, root);
