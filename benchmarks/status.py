"""3. Status: p50/p99 of `GET /v1/teams/{team}/jobs/{id}` with 10,000 jobs in the store,
against a direct apiserver GET of the same PyTorchJob.

Both sides use the same client (a keep-alive requests.Session, one request at a time, the
apiserver with the kubeconfig's client certificate), alternating blocks, so client overhead is
the same on both. wrk -c1 on the trainq GET gives the same figure without Python's client cost.
A queued job at the back of a deep queue is timed too: its `position` is an LPOS scan.

Then the rate: wrk -c16 rounds alternating the GET with the no-op endpoint's GET
(benchmarks/noop.py: the same authentication, no Redis), and the apiserver's reads of training
workloads (GET / LIST of pytorchjobs or trainjobs in `apiserver_request_total`) over the GET
rounds, per status read; all its requests are reported beside an idle window as long
(controllers and kubelets keep calling it, so that total cannot be told apart per read).
"""

import time

import requests
from kubernetes import client, config

from benchmarks.fill import fill_direct
from benchmarks.loadgen import cpu_ratio, median_cpu_us, wrk
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


def _apiserver_requests(kube: requests.Session, host: str) -> tuple[float, float]:
    """Requests the apiserver has served (apiserver_request_total): all of them, and the reads
    of training workloads (GET or LIST of pytorchjobs / trainjobs), which a status read would
    have to make if it asked the cluster."""
    total = workload = 0.0
    for line in kube.get(f"{host}/metrics", timeout=30).text.splitlines():
        if not line.startswith("apiserver_request_total{"):
            continue
        value = float(line.rsplit(" ", 1)[1])
        total += value
        if ('resource="pytorchjobs"' in line or 'resource="trainjobs"' in line) and \
                ('verb="GET"' in line or 'verb="LIST"' in line):  # fmt: skip
            workload += value
    return total, workload


def _rate_vs_noop(stack: BenchStack, path: str, seconds: float, rounds: int,
                  kube: requests.Session, host: str) -> dict:  # fmt: skip
    """Rounds of wrk -c16 on the GET and on the no-op GET, alternating; the apiserver's
    requests over the GET rounds, and over an idle window as long."""
    ours, noop = [(path, TOKENS["alpha"])], [("/v1/bench/noop", TOKENS["alpha"])]
    wrk(stack.base, ours, None, 1, 16)  # warm-up
    wrk(stack.noop_base, noop, None, 1, 16)
    idle_from = _apiserver_requests(kube, host)[0]
    time.sleep(seconds * rounds)
    idle = _apiserver_requests(kube, host)[0] - idle_from
    gets, noops, during, workload = [], [], 0.0, 0.0
    for _ in range(rounds):
        noops.append(wrk(stack.noop_base, noop, None, seconds, 16,
                         server_pid=stack.procs["noop"].pid))  # fmt: skip
        before = _apiserver_requests(kube, host)
        gets.append(wrk(stack.base, ours, None, seconds, 16, server_pid=stack.procs["api"].pid))
        after = _apiserver_requests(kube, host)
        during, workload = during + after[0] - before[0], workload + after[1] - before[1]
    reads = sum(g.requests for g in gets)
    per_round = [round(g.rate / n.rate, 3) for g, n in zip(gets, noops, strict=True) if n.rate]
    ratios = sorted(per_round)
    rate = sum(g.rate for g in gets) / rounds
    noop_rate = sum(n.rate for n in noops) / rounds
    cpu, noop_cpu = median_cpu_us(gets), median_cpu_us(noops)
    return {
        "rate": round(rate, 1), "noop_rate": round(noop_rate, 1),
        "ratio_vs_noop": round(rate / noop_rate, 3) if noop_rate else None,
        "ratio_median_of_rounds": round(ratios[len(ratios) // 2], 3) if ratios else None,
        "ratios_per_round": per_round,
        "server_cpu_us": cpu, "noop_server_cpu_us": noop_cpu,
        "cpu_ratio_vs_noop": cpu_ratio(cpu, noop_cpu),
        "reads": reads, "apiserver_requests_during": during, "apiserver_requests_idle": idle,
        "workload_reads_during": workload,
        "apiserver_workload_reads_per_read": round(workload / reads, 4) if reads else None,
    }  # fmt: skip


def run(stack: BenchStack, jobs: int, samples: int, wrk_seconds: float, rounds: int = 5) -> dict:
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
    rated = _rate_vs_noop(stack, path, wrk_seconds, rounds, kube, host)
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
        "rate_vs_noop": rated,
        "goals": {"p99_ms": 5, "speedup": 10, "ratio_vs_noop": 0.8, "apiserver_per_read": 0},
    }
