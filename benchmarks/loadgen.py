"""Closed-loop HTTP load from a separate process: wrk with a generated Lua script.

Why wrk: it is C on an epoll loop, so one wrk thread drives thousands of requests/s on a few
percent of a core, where an async Python client would itself use a whole core at these rates,
and on a 2-core machine that core would come out of the server's share. The Lua script rotates
through (path, token) pairs (many teams for the scale benchmark) and counts accepted answers
(2xx) apart from the rest, so a rate of errors is never reported as a rate of submissions.
"""

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import asdict, dataclass

from benchmarks.jobwatch import tree_cpu_seconds

_LUA = r"""
local paths = {%(paths)s}
local tokens = {%(tokens)s}
local method = "%(method)s"
local body = %(body)s
local n = #paths
local i = 0
local threads = {}
accepted, other = 0, 0

function setup(thread) table.insert(threads, thread) end

function request()
  i = i %% n + 1
  local headers = {["Authorization"] = "Bearer " .. tokens[i]}
  if body then headers["Content-Type"] = "application/json" end
  return wrk.format(method, paths[i], headers, body)
end

function response(status, headers, resp)
  if status >= 200 and status < 300 then accepted = accepted + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local acc, oth = 0, 0
  for _, t in ipairs(threads) do acc = acc + t:get("accepted"); oth = oth + t:get("other") end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%%d,"duration_us":%%d,"accepted":%%d,"other":%%d,' ..
    '"p50_us":%%d,"p99_us":%%d,"mean_us":%%.1f,"socket_errors":%%d}\n',
    summary.requests, summary.duration, acc, oth,
    latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect + e.read + e.write + e.timeout))
end
"""


@dataclass
class LoadResult:
    requests: int
    accepted: int
    other: int
    seconds: float
    rate: float  # accepted answers per second
    p50_ms: float
    p99_ms: float
    socket_errors: int
    # The server's CPU (its process tree, /proc) per request answered, when its pid was given:
    # unlike a rate, it does not move with what other tenants of the machine run meanwhile.
    server_cpu_us: float | None = None


def ensure_wrk() -> str:
    """wrk's path; installs the Debian package when missing and running as root."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        if not shutil.which("wrk"):
            subprocess.run(["apt-get", "update", "-qq"], check=True, env=env,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, env=env,
                           stdout=subprocess.DEVNULL)  # fmt: skip
        found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed: sudo apt-get install wrk")
    return found


def _lua_str(s: str) -> str:
    return json.dumps(s)  # a JSON string literal is a valid Lua string literal for ASCII


def wrk(
    base: str,
    targets: list[tuple[str, str]],
    body: dict | None,
    seconds: float,
    connections: int,
    threads: int = 1,
    server_pid: int | None = None,
) -> LoadResult:
    """Run wrk for `seconds` with `connections` keep-alive connections, each request going to
    the next (path, token) of `targets` (POST with `body`, or GET when body is None).
    server_pid: the server's root process, whose CPU per request is then read."""
    script = _LUA % {
        "paths": ",".join(_lua_str(p) for p, _ in targets),
        "tokens": ",".join(_lua_str(t) for _, t in targets),
        "method": "GET" if body is None else "POST",
        "body": "nil" if body is None else _lua_str(json.dumps(body)),
    }
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        argv = [ensure_wrk(), f"-t{threads}", f"-c{connections}",
                f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", f.name, base]  # fmt: skip
        cpu_before = tree_cpu_seconds([server_pid]) if server_pid else 0.0
        out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
        cpu = tree_cpu_seconds([server_pid]) - cpu_before if server_pid else None
    finally:
        os.unlink(f.name)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk produced no summary: {out.stdout}\n{out.stderr}")
    raw = json.loads(line.removeprefix("WRKJSON "))
    secs = raw["duration_us"] / 1e6
    return LoadResult(
        requests=raw["requests"],
        accepted=raw["accepted"],
        other=raw["other"],
        seconds=round(secs, 3),
        rate=round(raw["accepted"] / secs, 1),
        p50_ms=round(raw["p50_us"] / 1000, 3),
        p99_ms=round(raw["p99_us"] / 1000, 3),
        socket_errors=raw["socket_errors"],
        server_cpu_us=round(cpu / raw["requests"] * 1e6, 1) if cpu and raw["requests"] else None,
    )


def as_dict(result: LoadResult) -> dict:
    return asdict(result)


def median_cpu_us(runs: list[LoadResult]) -> float | None:
    """The median over `runs` of the server's CPU per request (None where it was not read)."""
    values = sorted(r.server_cpu_us for r in runs if r.server_cpu_us is not None)
    return values[len(values) // 2] if values else None


def cpu_ratio(ours: float | None, baseline: float | None) -> float | None:
    """The baseline's CPU per request over ours: the rate ratio a server that is bound by its
    own CPU, alone on the machine, would show."""
    return round(baseline / ours, 3) if ours and baseline else None
