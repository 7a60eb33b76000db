"""Prometheus metrics from every real process (the API under gunicorn, a worker, the watcher),
each scraped over HTTP on its own port and parsed with prometheus_client's parser, after one
real job ran to success through the local control plane; and every metric the Grafana
dashboard (helm/trainq/dashboards/trainq.json) queries exists in that scrape."""

import json
import re
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import REPO, free_port, wait_until
from tests.support.redis_server import PrivateRedis
from tests.support.stack import Stack, job_body, unique
from wrapper.admission.limits import quota_of
from wrapper.config import load_config

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
DASHBOARD = REPO / "helm/trainq/dashboards/trainq.json"
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")


def scrape(port: int) -> list:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        return list(text_string_to_metric_families(answer.read().decode()))


def value(families: list, name: str, **labels) -> float:
    """A sample's value (0 when absent: a counter not incremented yet)."""
    for family in families:
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


def names(families: list) -> set[str]:
    """Every metric name a query may use: families with no sample yet count too (a counter
    declared but not incremented), with the suffixes their type gives them."""
    out = set()
    for f in families:
        out |= {f.name} | {s.name for s in f.samples}
        if f.type == "counter":
            out.add(f.name + "_total")
        elif f.type == "histogram":
            out |= {f.name + suffix for suffix in HISTOGRAM_SUFFIXES}
    return out


def dashboard_metrics() -> set[str]:
    """The metric names the dashboard's panel queries (and its variables) use."""
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    exprs += [v["definition"] for v in dash["templating"]["list"] if v.get("definition")]
    assert exprs
    return {m for e in exprs for m in re.findall(r"\btrainq_[a-z0-9_]+", e)}


@pytest.fixture(scope="module")
def run(tmp_path_factory, kubeconfig, kube_api):
    """A stack of its own (private Redis): API, one worker and the watcher, each serving metrics
    on its port; one real job run to success on the kwok nodes. Scrapes of every process while
    it ran and after it ended."""
    directory = tmp_path_factory.mktemp("metrics")
    redis_server = PrivateRedis(directory)
    redis_server.start()
    stack = Stack(directory / "stack", redis_server.url, kubeconfig)
    try:
        ports = {"api": free_port(), "worker": free_port(), "watcher": free_port()}
        api = stack.start_api(metrics_port=ports["api"])
        stack.start_worker("w1", {"TRAINQ_METRICS_PORT": str(ports["worker"])})
        stack.start_watcher(extra_env={"TRAINQ_METRICS_PORT": str(ports["watcher"])})
        for port in ports.values():
            wait_until(f"metrics on :{port}", lambda p=port: _answers(p), timeout=30)
        wait_until("the watcher to lead",
                   lambda: value(scrape(ports["watcher"]), "trainq_watcher_leader") == 1,
                   timeout=30)  # fmt: skip
        rec = api.submit_ok("alpha", job_body(unique("metrics"), annotations={
            "trainq.dev/sim-run-for": "4s"}))  # fmt: skip
        api.wait_status("alpha", rec["id"], "running", timeout=90)
        while_running = scrape(ports["watcher"])
        api.wait_status("alpha", rec["id"], "succeeded", timeout=90)
        assert api.job("alpha", 10**9).status_code == 404  # an HTTP error, counted by the API
        after = {name: scrape(port) for name, port in ports.items()}
        yield stack, while_running, after, ports
    finally:
        stack.close()
        redis_server.stop()


def _answers(port: int) -> bool:
    try:
        scrape(port)
        return True
    except OSError:
        return False


def test_the_leading_watcher_serves_team_gauges_read_at_scrape_time(run):
    stack, watcher, after, _ = run
    # While the job ran: its reservation, 1 Master + 1 Worker of 100m and 64Mi each.
    assert value(watcher, "trainq_admitted_active_jobs", team="alpha") == 1
    assert value(watcher, "trainq_team_resource_usage", team="alpha", resource="cpu") == 0.2
    assert value(watcher, "trainq_team_resource_usage", team="alpha",
                 resource="memory") == 2 * 64 * 2**20  # fmt: skip
    quota = quota_of(load_config(stack.config_path).team("alpha"))
    assert value(watcher, "trainq_team_nominal_quota", team="alpha",
                 resource="cpu") == quota.cpu / 1000  # fmt: skip
    assert value(watcher, "trainq_pending_jobs", team="alpha", status="active") == 0
    assert value(watcher, "trainq_pending_jobs", team="alpha", status="inadmissible") == 0
    assert value(watcher, "trainq_pool_saturation", resource="cpu") > 0
    # Served once: not by the worker nor by the API.
    assert not [f for f in after["worker"] + after["api"] if f.name == "trainq_pending_jobs"]


def test_the_worker_counts_admission_and_dispatch(run):
    worker = run[2]["worker"]
    assert value(worker, "trainq_admitted_jobs_total", team="alpha") == 1
    assert value(worker, "trainq_admission_wait_time_seconds_count", team="alpha") == 1
    assert value(worker, "trainq_admission_attempts_total", result="success") == 1
    assert value(worker, "trainq_dispatch_attempts_total", result="created") == 1


def test_the_watcher_counts_the_end_and_its_mirror_lag(run):
    watcher = run[2]["watcher"]
    assert value(watcher, "trainq_finished_jobs_total", team="alpha", result="succeeded") == 1
    assert value(watcher, "trainq_execution_time_seconds_count", team="alpha",
                 result="succeeded") == 1  # fmt: skip
    # It ran at least its simulated 4 s (admission to end: dispatch and pods included).
    assert value(watcher, "trainq_execution_time_seconds_sum", team="alpha",
                 result="succeeded") >= 4  # fmt: skip
    count = value(watcher, "trainq_watch_lag_seconds_count")
    assert count >= 2  # (Created or Running, then Succeeded)
    assert value(watcher, "trainq_watch_lag_seconds_sum") < 2 * count  # whole-second stamps


def test_the_api_counts_its_own_only(run):
    api = run[2]["api"]
    assert value(api, "trainq_job_submissions_total", team="alpha") == 1
    assert value(api, "trainq_http_errors_total", status="404") == 1
    assert value(api, "trainq_admitted_jobs_total", team="alpha") == 0  # the worker's


def test_every_metric_the_dashboard_queries_is_in_the_real_scrape(run):
    everywhere = set().union(*(names(families) for families in run[2].values()))
    queried = dashboard_metrics()
    assert len(queried) > 15
    missing = sorted(queried - everywhere)
    assert not missing, f"the dashboard queries metrics no process serves: {missing}"


def test_an_eviction_and_an_end_are_counted_by_the_process_that_made_them(run):
    """A running job suspended through the API (its pods go): an eviction, counted by the API;
    cancelled while suspended: a cancelled end, never admitted again."""
    stack, ports = run[0], run[3]
    rec = stack.api.submit_ok("alpha", job_body(unique("evict"), annotations={
        "trainq.dev/sim-run-for": "120s"}))  # fmt: skip
    stack.api.wait_status("alpha", rec["id"], "running", timeout=90)
    assert stack.api.act("alpha", rec["id"], "suspend").status_code == 202
    assert stack.api.cancel("alpha", rec["id"]).status_code in (200, 202)
    stack.api.wait_status("alpha", rec["id"], "cancelled", timeout=60)
    scraped = [scrape(port) for port in ports.values()]
    total = lambda name, **labels: sum(value(f, name, **labels) for f in scraped)  # noqa: E731
    assert value(scrape(ports["api"]), "trainq_evicted_jobs_total", team="alpha",
                 reason="Suspended") == 1  # fmt: skip
    assert total("trainq_evicted_jobs_total", team="alpha", reason="Suspended") == 1
    assert total("trainq_finished_jobs_total", team="alpha", result="cancelled") == 1
    # It ran before its suspension: its run time is observed with its end.
    assert total("trainq_execution_time_seconds_count", team="alpha", result="cancelled") == 1
    assert total("trainq_admitted_jobs_total", team="alpha") == 2  # (the first job's, and its)
