"""The side-by-side table (trainq vs Kueue, benchmarks/sidebyside.py) and its block in
RESULTS.md (between KUEUE_BEGIN and KUEUE_END), written by a run that measured it."""

from benchmarks import report

KUEUE_BEGIN = "<!-- kueue:begin (written by make bench) -->"
KUEUE_END = "<!-- kueue:end -->"


def _error(out: dict) -> str:
    """An error in one line (an ApiException's text runs over several: it would break the table)."""
    return "failed: " + " ".join(out["error"].split())[:300]


def _lat(side: dict) -> str:
    if "error" in side:
        return _error(side)
    if not side.get("samples"):
        return "no samples"
    return f"{side['p50_s']} / {side['p99_s']} s (max {side['max_s']}; {side['samples']} jobs)"


def _cpu(side: dict) -> str:
    return f"{side['cpu_s']} CPU-s over {side['window_s']} s" if "cpu_s" in side else ""


def _met(trainq: dict, kueue: dict) -> str:
    if not trainq.get("samples") or not kueue.get("samples"):
        return "n/a"
    return _yes(trainq["p99_s"] <= kueue["p99_s"])


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def _failed(side: dict) -> str | None:
    return _error(side) if "error" in side else None


def _mixed(side: dict) -> str:
    return _failed(side) or (
        f"utilisation {side['utilisation_while_waiting']} (held "
        f"{side['held_while_waiting']}) over {side['waiting_s']} s of waiting; "
        f"{side['half_placed_jobs']} half-placed jobs; makespan {side['makespan_s']} s"
    )


def _mixed_met(t: dict, k: dict) -> str:
    if _failed(t) or _failed(k):
        return "n/a"
    util = (t["utilisation_while_waiting"] or 0) >= (k["utilisation_while_waiting"] or 0)
    return _yes(t["half_placed_jobs"] == 0 and util)


def _stream(side: dict) -> str:
    return _failed(side) or (
        f"{_lat(side)}; {side['admissions_per_s']} admissions/s; Jain {side['jain_mean']} "
        f"over {side['saturated_s']} s saturated (shares {side['share_saturated']}); "
        f"{side.get('preemptions', '?')} preemptions"
    )


def _stream_met(t: dict, k: dict) -> str:
    if _failed(t) or _failed(k) or t.get("jain_mean") is None or k.get("jain_mean") is None:
        return "n/a"
    return _yes(t["p99_s"] <= k["p99_s"] and t["jain_mean"] >= k["jain_mean"])


def rows(kq: dict) -> list[tuple[str, str, str, str]]:
    if "error" in kq:
        return [("Side by side with Kueue", _error(kq), "", "n/a")]
    out = []
    se = kq.get("seed_example")
    if se:
        t, k = se["trainq"], se["kueue"]
        out.append((
            f"1. Seed example: alpha queues {se['flood']} jobs (4 gpus), then beta and gamma "
            "submit one each; submission to start of beta's and gamma's jobs (p50 / p99)",
            _lat(t), _lat(k), _met(t, k),
        ))  # fmt: skip
        out.append((
            f"1. ... submitting alpha's {se['flood']} jobs (trainq: POST each; Kueue: create each "
            "suspended PyTorchJob)",
            f"{t.get('flood_submit_s', '?')} s", f"{k.get('flood_submit_s', '?')} s", "",
        ))  # fmt: skip
        out.append(("1. ... CPU of trainq's processes vs Kueue's controller", _cpu(t), _cpu(k), ""))
    mx = kq.get("mixed")
    if mx:
        t, k = mx["trainq"], mx["kueue"]
        out.append((
            f"2. Mixed shapes: {mx['jobs']} gang jobs (1/2/4/8 gpus x 1-4 replicas, "
            f"{mx['gpus_asked']} gpus asked, run {mx['run_for_s'][0]}-{mx['run_for_s'][1]} s) "
            f"at once on {mx['nodes']} nodes x 8 gpus; useful gpu-s / pool gpu-s while jobs "
            "wait; half-placed jobs (goal: 0, utilisation >= Kueue's)",
            _mixed(t), _mixed(k), _mixed_met(t, k),
        ))  # fmt: skip
        out.append(("2. ... CPU of trainq's processes vs Kueue's controller", _cpu(t), _cpu(k), ""))
    st = kq.get("stream")
    if st:
        t, k = st["trainq"], st["kueue"]
        fewer = "" if st["jobs"] >= 1000 else f" (**{st['jobs']}, not issue 19's 1,000**)"
        out.append((
            f"3. Steady stream: {st['jobs']} one-gpu jobs{fewer} of {st['run_for_s']} s, "
            f"alpha/beta/gamma in turn at {st['rate_per_s']}/s on {st['gpus']} gpus, weights "
            "1/1/2 (nominal quotas 1/4, 1/4, 1/2, rest borrowable); submission to admission "
            "(queueing included, p50 / p99), admissions/s, Jain of use/weight while every team "
            "waits (goal: p99 and Jain no worse)",
            _stream(t), _stream(k), _stream_met(t, k),
        ))  # fmt: skip
        out.append(("3. ... CPU of trainq's processes vs Kueue's controller", _cpu(t), _cpu(k), ""))
    rc = kq.get("reclaim")
    if rc:
        t, k = rc["trainq"], rc["kueue"]
        out.append((
            f"4. Reclaim: beta's borrowed jobs hold all {rc['gpus']} gpus, alpha submits "
            f"{rc['entitled_per_round']} entitled 8-gpu jobs x {rc['rounds']} rounds; "
            "submission to admission (p50 / p99)",
            f"{_lat(t)}, {t.get('preemptions', '?')} preemptions",
            f"{_lat(k)}, {k.get('preemptions', '?')} preemptions", _met(t, k),
        ))  # fmt: skip
        out.append(("4. ... CPU of trainq's processes vs Kueue's controller", _cpu(t), _cpu(k), ""))
    return out


def table(kq: dict) -> str:
    version = kq.get("kueue_version", "?")
    lines = [f"| Workload | trainq | Kueue {version} | trainq meets issue 19's goal |",
             "|---|---|---|---|"]  # fmt: skip
    for row in rows(kq):
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def block(results: dict) -> str:
    reused = results["kueue"].get("from_run")
    run = f"Figures of run {reused}, reused by run" if reused else "Run"
    return (
        f"{KUEUE_BEGIN}\n"
        f"{run} {results['started']} → {results['finished']} (UTC), command "
        f"`{results['command']}` (after `source k8s/local/env.sh`; Kueue built by "
        "`k8s/local/build.sh kueue`), on the shared 2-core machine. Each side ran alone, on "
        "kwok nodes of its own; latency is client-side, from PyTorchJob watch events "
        "(trainq: created; Kueue: unsuspended). Goals: p99 <= Kueue's (1, 4); no half-placed "
        "job and utilisation >= Kueue's (2); p99 <= and Jain >= Kueue's (3).\n\n"
        f"{table(results['kueue'])}\n\n"
        f"Sizes: `{results['sizes'].get('kueue')}`\n"
        f"{KUEUE_END}"
    )


def write_results_md(results: dict) -> None:
    """Replace the side-by-side block of RESULTS.md (appended if missing)."""
    report.replace_block(KUEUE_BEGIN, KUEUE_END, block(results))
