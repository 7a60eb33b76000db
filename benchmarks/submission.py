"""1. Submission: accepted `POST /v1/teams/{team}/jobs` per second (and p50/p99) under closed-
loop wrk load, against (a) `POST /v1/bench/noop` (benchmarks/noop.py: auth and JSON parsing,
no Redis, on a gunicorn with the same config) and (b) redis-benchmark's rate for as many Redis
commands as one submission costs.

Commands per submission are counted with MONITOR (filtered to the stack's DB) around one
submission: the commands the API sends, plus the ones its Lua scripts run inside Redis; once on
an empty store (the baseline uses this count) and once after the load, when the queue is deep.
"""

import re
import shutil
import subprocess
import threading
import time
from urllib.parse import urlparse

import redis
import requests

from benchmarks.loadgen import as_dict, cpu_ratio, median_cpu_us, wrk
from benchmarks.stack import TOKENS, BenchStack, job_body, submit
from wrapper.redis import keys

# The command types a submission sends (see count_commands); redis-benchmark runs these.
REDIS_BENCH_TESTS = "incr,hset,sadd,zadd,rpush,get"


def count_commands(stack: BenchStack) -> dict:
    """Run one submission under MONITOR; count the commands that reached the stack's DB."""
    url = urlparse(stack.redis_url)
    mon_client = redis.Redis(
        host=url.hostname, port=url.port, db=stack.db, username=url.username, password=url.password
    )
    seen: list[dict] = []
    started = threading.Event()

    def watch():
        with mon_client.monitor() as m:
            mon_client.echo("bench-monitor-start")
            for cmd in m.listen():
                if cmd.get("db") != stack.db:
                    continue
                if "bench-monitor-start" in cmd["command"]:
                    started.set()
                    continue
                if "bench-monitor-end" in cmd["command"]:
                    return
                seen.append(cmd)

    # Let the load generator's last requests finish, and warm this client's connection.
    time.sleep(1)
    submit(requests.Session(), stack.base, "alpha", job_body("warm"))
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    started.wait(10)
    submit(requests.Session(), stack.base, "alpha", job_body("monitored"))
    time.sleep(0.2)
    redis.Redis.from_url(stack.redis_url).echo("bench-monitor-end")
    thread.join(10)
    names = [c["command"].split(" ", 1)[0].upper() for c in seen]
    lua = sum(1 for c in seen if c.get("client_type") == "lua")
    return {
        "total": len(seen),
        "sent_by_api": len(seen) - lua,
        "run_by_lua": lua,
        "commands": names,
    }


def redis_benchmark(stack: BenchStack, connections: int, requests_per_test: int) -> dict:
    """redis-benchmark (no pipelining, `connections` clients) over the command types a
    submission uses; the mean of their rates, in commands per second."""
    exe = shutil.which("redis-benchmark")
    if exe is None:
        raise RuntimeError("redis-benchmark not found (Debian package redis-tools)")
    url = urlparse(stack.redis_url)
    argv = [exe, "-h", url.hostname, "-p", str(url.port), "--dbnum", str(stack.db),
            "-c", str(connections), "-n", str(requests_per_test), "-t", REDIS_BENCH_TESTS,
            "--csv"]  # fmt: skip
    if url.password:
        # redis-benchmark reads no password from the environment; the local dev password
        # on a loopback-only Redis, for the seconds this runs.
        argv += ["-a", url.password]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=300).stdout
    rates = {}
    for line in out.splitlines():
        m = re.match(r'"([A-Z]+)[^"]*","([0-9.]+)"', line)
        if m:
            rates[m.group(1)] = float(m.group(2))
    stack.redis.flushdb()
    return {"per_command": rates, "mean_commands_per_s": round(sum(rates.values()) / len(rates))}


def _median_ratio(submits: list, noops: list) -> float | None:
    ratios = sorted(s.rate / n.rate for s, n in zip(submits, noops, strict=True) if n.rate)
    if not ratios:
        return None
    mid = len(ratios) // 2
    median = ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return round(median, 3)


def run(stack: BenchStack, seconds: float, connections: int, rounds: int) -> dict:
    """`rounds` alternations of noop and submit runs (alternating spreads the noise of a
    shared machine over both)."""
    alpha = [("/v1/teams/alpha/jobs", TOKENS["alpha"])]
    noop = [("/v1/bench/noop", TOKENS["alpha"])]
    body = job_body("submitted")
    wrk(stack.noop_base, noop, body, 1, connections)  # warm-up: connections, imports, scripts
    wrk(stack.base, alpha, body, 1, connections)
    stack.redis.flushdb()
    commands = count_commands(stack)  # on an empty store: the per-submission constant
    stack.redis.flushdb()
    noops, submits = [], []
    for _ in range(rounds):
        noops.append(wrk(stack.noop_base, noop, body, seconds, connections,
                         server_pid=stack.procs["noop"].pid))  # fmt: skip
        submits.append(wrk(stack.base, alpha, body, seconds, connections,
                           server_pid=stack.procs["api"].pid))  # fmt: skip
    queued_at_end = stack.redis.zcard(keys.team_queue("alpha"))
    commands_at_end = count_commands(stack)
    stack.redis.flushdb()
    rb = redis_benchmark(stack, connections, 20_000 if seconds >= 5 else 2_000)

    def combine(runs):
        accepted = sum(r.accepted for r in runs)
        secs = sum(r.seconds for r in runs)
        return {
            "rate": round(accepted / secs, 1),
            "p50_ms": sorted(r.p50_ms for r in runs)[len(runs) // 2],
            "p99_ms": max(r.p99_ms for r in runs),
            "non_2xx": sum(r.other for r in runs),
            "socket_errors": sum(r.socket_errors for r in runs),
            "server_cpu_us": median_cpu_us(runs),
            "runs": [as_dict(r) for r in runs],
        }

    sub, nop = combine(submits), combine(noops)
    redis_rate = rb["mean_commands_per_s"] / commands["total"]
    return {
        "load": f"wrk -t1 -c{connections}, {rounds} x {seconds:g}s per endpoint, alternating",
        "submit": sub,
        "noop": nop,
        "redis_commands_per_submission": commands,
        "redis_commands_per_submission_at_end": {
            **{k: v for k, v in commands_at_end.items() if k != "commands"},
            "queued_jobs": queued_at_end,
        },
        "redis_benchmark": rb,
        "redis_bound_rate": round(redis_rate, 1),
        "ratio_vs_noop": round(sub["rate"] / nop["rate"], 3) if nop["rate"] else None,
        # Each submit round against the no-op round just before it: robust to the shared
        # machine's slow phases, which hit whole rounds (rates swing 2x between rounds).
        "ratio_vs_noop_median_of_rounds": _median_ratio(submits, noops),
        "ratio_vs_redis": round(sub["rate"] / redis_rate, 3) if redis_rate else None,
        "cpu_ratio_vs_noop": cpu_ratio(sub["server_cpu_us"], nop["server_cpu_us"]),
        "goals": {"rate_per_s": 2000, "ratio_vs_noop": 0.7},
    }
