"""3. Status: p50/p99 of `GET /v1/teams/{team}/jobs/{id}` with 10,000 jobs in the store,
against a direct apiserver GET of the same PyTorchJob.

Both sides use the same client (a keep-alive requests.Session, one request at a time, the
apiserver with the kubeconfig's client certificate), alternating blocks, so client overhead is
the same on both. wrk -c1 on the trainq GET gives the same figure without Python's client cost.
A queued job at the back of a deep queue is timed too: its `position` is an LPOS scan.
"""

import time

import requests
from kubernetes import client, config

from benchmarks.fill import fill_direct
from benchmarks.loadgen import wrk
from benchmarks.stack import TOKENS, BenchStack, job_body, kubeconfig, submit
from benchmarks.stats import summary_ms, timed
from wrapper.redis import keys


def _dispatched_job(stack: BenchStack) -> dict:
    """Submit one job and let one worker create its PyTorchJob; returns its record."""
    session = requests.Session()
    auth = {"Authorization": f"Bearer {TOKENS['alpha']}"}
    job_id = submit(session, stack.base, "alpha", job_body("status", "600s"))["id"]
    stack.start_workers(1)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            rec = session.get(f"{stack.base}/v1/teams/alpha/jobs/{job_id}", headers=auth).json()
            if rec.get("pytorchjob"):
                return rec
            time.sleep(0.1)
        raise RuntimeError(f"job {job_id} was not dispatched within 60 s")
    finally:
        stack.stop("worker-")


def _apiserver_session() -> tuple[requests.Session, str]:
    cfg = client.Configuration()
    config.load_kube_config(config_file=kubeconfig(), client_configuration=cfg)
    session = requests.Session()
    session.trust_env = False  # else REQUESTS_CA_BUNDLE overrides the cluster CA
    session.verify = cfg.ssl_ca_cert if cfg.verify_ssl else False
    if cfg.cert_file:
        session.cert = (cfg.cert_file, cfg.key_file)
    token = cfg.api_key.get("authorization")
    if token:
        session.headers["Authorization"] = token
    return session, cfg.host


def run(stack: BenchStack, jobs: int, samples: int, wrk_seconds: float) -> dict:
    stack.redis.flushdb()
    rec = _dispatched_job(stack)
    fill_s = fill_direct(stack, ["alpha", "beta"], jobs - 1)
    in_store = len(stack.redis.keys(keys.JOB_KEY_PREFIX + "*"))
    ns, name = rec["pytorchjob"]["namespace"], rec["pytorchjob"]["name"]
    ours_url = f"{stack.base}/v1/teams/alpha/jobs/{rec['id']}"
    ours = requests.Session()
    ours.trust_env = False  # as for the apiserver session: no proxy/netrc lookups per request
    ours.headers["Authorization"] = f"Bearer {TOKENS['alpha']}"
    kube, host = _apiserver_session()
    kube_url = f"{host}/apis/kubeflow.org/v1/namespaces/{ns}/pytorchjobs/{name}"
    # The newest queued job of alpha: the back of a queue thousands deep.
    tail_id = int(stack.redis.zrevrange(keys.team_jobs("alpha"), 0, 0)[0])
    tail_url = f"{stack.base}/v1/teams/alpha/jobs/{tail_id}"

    def get(session, url):
        def call():
            r = session.get(url, timeout=10)
            r.raise_for_status()

        return call

    for fn in (get(ours, ours_url), get(kube, kube_url), get(ours, tail_url)):
        timed(fn, 20)  # warm connections
    trainq_s, kube_s, tail_s = [], [], []
    for _ in range(4):
        trainq_s += timed(get(ours, ours_url), samples // 4)
        kube_s += timed(get(kube, kube_url), samples // 4)
        tail_s += timed(get(ours, tail_url), samples // 4, budget_s=10)
    queue_depth = stack.redis.zcard(keys.team_queue("alpha"))
    path = ours_url.removeprefix(stack.base)
    by_wrk = wrk(stack.base, [(path, TOKENS["alpha"])], None, wrk_seconds, 1)
    t, k = summary_ms(trainq_s), summary_ms(kube_s)
    return {
        "jobs_in_store": in_store,
        "fill": f"{jobs - 1} queued jobs via JobStore.submit in {fill_s:.1f} s",
        "client": "requests.Session, sequential, keep-alive, same for both",
        "trainq": t,
        "apiserver": k,
        "trainq_wrk_c1": {"p50_ms": by_wrk.p50_ms, "p99_ms": by_wrk.p99_ms, "rate": by_wrk.rate},
        "trainq_queued_tail": {**summary_ms(tail_s), "queue_depth": queue_depth},
        "speedup_p50": round(k["p50_ms"] / t["p50_ms"], 2) if t["p50_ms"] else None,
        "speedup_p99": round(k["p99_ms"] / t["p99_ms"], 2) if t["p99_ms"] else None,
        "goals": {"p99_ms": 5, "speedup": 10},
    }
