"""The dashboard (/ui) in a real browser: Debian's Chromium driven by Playwright, against a
whole stack (gunicorn API, an RQ worker, the watcher, a private Redis, the real control
plane). Team alpha may run one job at a time here, so a second job visibly waits.

A team signs in once; watches a job wait (its position and WaitingForQuota shown, over the
event stream) and then run to `succeeded` with its loss and accuracy charts drawn from the
metrics its run reported; cancels a queued job with the job page's button; is refused another
team's data (the 404 problem shown); compares runs; the admin sees every team. No request
carries the token in its URL, and the page breaks no rule of its Content-Security-Policy.
And a job of real processes (team `local` on a node agent of the test's own) that logs and
reports an epoch every two seconds: its page follows the log and redraws the charts while it
runs. Screenshots go to $TRAINQ_SCREENSHOTS (default: the test's tmp dir)."""

import os
import shutil
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes import client

from tests.support import LOCAL_CONFIG
from tests.support.nodeagent import pinned_local_stack
from tests.support.stack import TOKENS, Stack, job_body, unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
CHROMIUM = os.environ.get("TRAINQ_CHROMIUM", "/usr/bin/chromium")
TIMEOUT_MS = 60_000


@pytest.fixture
def ui_stack(tmp_path, kubeconfig, kube_api, private_redis):
    teams = yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]
    for team in teams:
        if team["name"] == "alpha":
            team["quota"]["max_running_jobs"] = 1
    # Short keepalives: a stream the page left frees its API slot within seconds.
    stack = Stack(tmp_path / "stack", private_redis.url, kubeconfig, teams=teams,
                  events={"keepalive_seconds": 2})  # fmt: skip
    try:
        stack.start_all()
        yield stack
    finally:
        stack.close()


@pytest.fixture
def local_stack(tmp_path, kubeconfig, kube_api, private_redis):
    """Team `local` pinned to a node agent of this test's own: real processes, real logs."""
    with pinned_local_stack(
        tmp_path,
        kubeconfig,
        client.CoreV1Api(kube_api),
        private_redis.url,
        "ui",
        events={"keepalive_seconds": 2},
    ) as (stack, _):
        yield stack


@pytest.fixture
def shots(tmp_path) -> Path:
    directory = Path(os.environ.get("TRAINQ_SCREENSHOTS", tmp_path / "screenshots"))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def browse(shots, request):
    """browse(stack) -> a new signed-out page on the stack's API; each page's last state is
    saved as <test>-end-<n>.png (what a failure looked like)."""
    if not shutil.which(CHROMIUM):
        pytest.skip(f"Chromium is not installed at {CHROMIUM} (Debian: apt-get install chromium; "
                    ".ci/run installs it)")  # fmt: skip
    from playwright.sync_api import sync_playwright

    opened: list[Watched] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)

        def browse(stack: Stack) -> Watched:
            opened.append(Watched(browser, stack.api.base))
            return opened[-1]

        try:
            yield browse
        finally:
            for n, watched in enumerate(opened):
                end = shots / f"{request.node.name[:40]}-end-{n}.png"
                watched.page.screenshot(path=end, full_page=True)
            browser.close()


class Watched:
    """A page with what it requested and what the console said."""

    def __init__(self, browser, base: str):
        self.context = browser.new_context(viewport={"width": 1280, "height": 1000})
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.urls: list[str] = []
        self.console: list[str] = []
        self.page.on("request", lambda r: self.urls.append(r.url))
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.console.append(f"pageerror: {e}"))
        self.base = base

    def sign_in(self, token: str, team: str = "") -> None:
        self.page.goto(f"{self.base}/ui")
        self.page.get_by_label("Team").fill(team)
        self.page.get_by_label("Token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()

    def open(self, fragment: str):
        self.page.goto(f"{self.base}/ui/#/{fragment}")
        return self.page

    def testid(self, value: str):
        return self.page.get_by_test_id(value)

    def clean(self) -> None:
        for token in TOKENS.values():
            assert not [u for u in self.urls if token in u], "a token went into a URL"
        assert not [m for m in self.console if "Content Security Policy" in m or "pageerror" in m]


def _metrics_channel(stack: Stack, job_id: int) -> tuple[str, str]:
    """The URL and token dispatch gave the job's pods (what its trainer would report with)."""
    (pytorchjob,) = stack.pytorchjobs("team-alpha", job_id)
    env = pytorchjob["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
    values = {e["name"]: e.get("value") for e in env["env"]}
    return values["TRAINQ_METRICS_URL"], values["TRAINQ_METRICS_TOKEN"]


def _report(stack: Stack, job_id: int) -> None:
    url, token = _metrics_channel(stack, job_id)
    epochs = [{"epoch": e, "values": {"train_loss": 1.2 / e, "val_accuracy": 0.5 + 0.12 * e}}
              for e in (1, 2, 3)]  # fmt: skip
    for body in ({"epochs": epochs}, {"final": {"test_accuracy": 0.87, "test_f1_macro": 0.85}}):
        answer = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                               timeout=10)  # fmt: skip
        assert answer.status_code == 202, answer.text


def test_a_team_watches_waits_runs_cancels_and_is_refused_another_team(browse, ui_stack, shots):
    api, base = ui_stack.api, ui_stack.api.base
    page = requests.get(f"{base}/ui/", timeout=10)
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]

    ui = browse(ui_stack)
    ui.sign_in(TOKENS["alpha"], "alpha")
    ui.testid("team-view").wait_for()
    assert ui.testid("live").inner_text() in {"live", "connecting…"}

    # One job runs (until cancelled); the next waits for alpha's one-job quota, another behind.
    blocker = api.submit_ok("alpha", job_body(unique("blocker"),
                            annotations={"trainq.dev/sim-run-for": "600s"}))["id"]  # fmt: skip
    api.wait_status("alpha", blocker, "running", timeout=60)
    waiting = api.submit_ok("alpha", job_body(unique("watched"),
                            annotations={"trainq.dev/sim-run-for": "15s"}))["id"]  # fmt: skip
    doomed = api.submit_ok("alpha", job_body(unique("doomed")))["id"]
    row = ui.testid(f"queued-{waiting}")
    row.get_by_test_id("reason").filter(has_text="WaitingForQuota").wait_for()
    ui.testid(f"queued-{doomed}").wait_for()
    ui.testid("running").get_by_test_id(f"job-{blocker}").wait_for()
    ui.page.screenshot(path=shots / "team-view.png", full_page=True)

    # The doomed job's page: it waits too; its Cancel button cancels it.
    ui.open(f"teams/alpha/jobs/{doomed}")
    ui.testid("pending-reason").filter(has_text="WaitingForQuota").wait_for()
    ui.testid("cancel").click()
    ui.testid("status").filter(has_text="cancelled").wait_for()
    assert api.record("alpha", doomed)["status"] == "cancelled"

    # The watched job: queued with its reason, then running, then succeeded with charts.
    ui.open(f"teams/alpha/jobs/{waiting}")
    ui.testid("pending-reason").filter(has_text="WaitingForQuota").wait_for()
    assert ui.testid("position").inner_text() == "0"
    ui.testid("charts-empty").wait_for()
    assert api.cancel("alpha", blocker).status_code == 202  # its room comes back
    ui.testid("status").filter(has_text="running").wait_for(timeout=90_000)
    _report(ui_stack, waiting)
    ui.testid("status").filter(has_text="succeeded").wait_for(timeout=90_000)
    for chart in ("chart-loss", "chart-accuracy"):
        drawn = ui.testid(chart)
        drawn.locator("canvas").wait_for()
        assert drawn.get_attribute("data-points") == "3"
    timeline = ui.testid("timeline").inner_text()
    assert "Submitted" in timeline and "Succeeded" in timeline
    ui.page.screenshot(path=shots / "job-page.png", full_page=True)

    # Runs compared: the watched run with its final accuracy, its curve drawn.
    ui.open("teams/alpha/runs")
    ui.testid(f"run-{waiting}").filter(has_text="0.87").wait_for()
    ui.testid("compare-chart").locator("canvas").wait_for()
    ui.page.screenshot(path=shots / "runs.png", full_page=True)

    # Another team's data: the API's 404 problem, shown as such; the stream refused too.
    ui.open("teams/beta")
    problem = ui.testid("problem").first
    problem.filter(has_text="404 Not Found").wait_for()
    assert "No such team" in problem.inner_text()
    ui.testid("live").filter(has_text="no stream").wait_for()
    ui.open(f"teams/beta/jobs/{waiting}")
    ui.testid("problem").first.filter(has_text="404 Not Found").wait_for()

    # Signed in for the tab: a reload keeps the session; signing out forgets it.
    ui.page.reload()
    ui.testid("job-view").wait_for()
    ui.testid("sign-out").click()
    ui.testid("login").wait_for()
    assert ui.page.evaluate("sessionStorage.length") == 0
    ui.clean()

    # A wrong token is refused at sign-in with the API's 401.
    bad = browse(ui_stack)
    bad.sign_in("not-a-token", "alpha")
    bad.testid("problem").filter(has_text="401").wait_for()

    # The admin overview: every team, the cluster, the pools.
    admin = browse(ui_stack)
    admin.sign_in(TOKENS["admin"])
    admin.testid("admin-view").wait_for()
    for team in ("alpha", "beta", "local"):
        admin.testid(f"team-{team}").wait_for()
    admin.testid("cluster").wait_for()
    admin.testid("team-alpha").get_by_test_id("preemptions").filter(has_text="0").wait_for()
    admin.page.screenshot(path=shots / "admin.png", full_page=True)
    admin.clean()
    print(f"screenshots: {shots}")


# A trainer in sh: each epoch is reported (its job's metrics URL and token), then logged.
TRAINER = """
for e in 1 2 3 4; do
  loss=0.$((9 - e)); accuracy=0.$((5 + e))
  body='{"epochs":[{"epoch":'$e',"values":{"train_loss":'$loss',"val_accuracy":'$accuracy'}}]}'
  curl -fsS -X POST "$TRAINQ_METRICS_URL" -H "Authorization: Bearer $TRAINQ_METRICS_TOKEN" \\
    -H 'Content-Type: application/json' -d "$body" >/dev/null
  echo "epoch $e/4 train_loss=$loss val_accuracy=$accuracy"
  sleep 2
done
echo done
"""


def test_a_running_job_s_log_is_followed_and_its_charts_grow_while_it_runs(
    browse, local_stack, shots
):
    api = local_stack.api
    ui = browse(local_stack)
    ui.sign_in(TOKENS["local"], "local")
    ui.testid("team-view").wait_for()
    body = job_body(unique("live"), workers=0, annotations={}, command=["sh", "-c", TRAINER])
    job_id = api.submit_ok("local", body)["id"]
    ui.open(f"teams/local/jobs/{job_id}")
    ui.testid("status").filter(has_text="running").wait_for(timeout=90_000)

    # While it runs: the log grows line by line, and so do the charts.
    ui.testid("log-text").filter(has_text="epoch 2/4").wait_for()
    ui.page.wait_for_function(
        """() => document.querySelector('[data-testid=status]').textContent === 'running'
                 && Number(document.querySelector('[data-testid=chart-loss]')
                           ?.dataset.points) >= 2""",
        timeout=TIMEOUT_MS,
    )
    assert "following" in ui.testid("log-note").inner_text()
    ui.page.screenshot(path=shots / "job-running.png", full_page=True)

    ui.testid("status").filter(has_text="succeeded").wait_for(timeout=90_000)
    assert ui.testid("chart-accuracy").get_attribute("data-points") == "4"
    ui.testid("log-text").filter(has_text="done").wait_for()
    ui.clean()
