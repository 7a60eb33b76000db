"""The markdown table of one run (every figure beside its baseline and ratio), the machine
description, and RESULTS.md."""

import json
import os
import platform
import subprocess
from pathlib import Path

RESULTS_MD = Path(__file__).resolve().parent / "RESULTS.md"


def machine() -> dict:
    def sh(*argv):
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        return out.rstrip()  # keep leading spaces: `free -g` aligns its header with them

    model = next(
        (ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
         if ln.startswith("model name")), platform.processor(),
    )  # fmt: skip
    return {
        "nproc": sh("nproc"),
        "cpu_model": model,
        "free_g": sh("free", "-g"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "kernel": platform.release(),
        "python": platform.python_version(),
        "redis": sh("redis-server", "--version"),
        "wrk": sh("sh", "-c", "wrk --version 2>&1 | head -1"),
        "shared": os.environ.get("TRAINQ_BENCH_SHARED", "yes"),
    }


def _f(value, unit="", digits=1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        value = round(value, digits)
    return f"{value:,}{unit}" if isinstance(value, int) else f"{value}{unit}"


def _met(ok) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _pytorchjob_only(d: dict) -> str:
    """The raw loop's rate without the NetworkPolicies (runs before it made them had none)."""
    if d.get("raw_rate_pytorchjob_only") is None:
        return ""
    return (
        f", making each job's NetworkPolicy too; PyTorchJobs alone "
        f"{_f(d['raw_rate_pytorchjob_only'], '/s')} (ratio {d['ratio_vs_pytorchjob_only']})"
    )


def _dispatch_cpu_row(d: dict) -> list[tuple[str, str, str, str, str, str]]:
    """The whole machine's CPU per PyTorchJob in each side's window (median round)."""
    cpu = d.get("cpu_ms_per_job") or {}
    if cpu.get("trainq") is None or cpu.get("raw") is None:
        return []
    return [("2. CPU per PyTorchJob, whole machine (/proc, median round)",
             f"{cpu['trainq']:g} ms, of it trainq's processes and Redis {cpu['trainq_own']:g} ms",
             f"raw loop {cpu['raw']:g} ms", _f(round(cpu["raw"] / cpu["trainq"], 3), "", 3),
             "", "")]  # fmt: skip


def _cpu_row(figure: str, ours, noop, ratio) -> list[tuple[str, str, str, str, str, str]]:
    """The server's CPU per request against the no-op's (runs that read it): the ratio the
    rates would show on a machine with no other tenant, where the server is CPU-bound."""
    if ours is None or noop is None:
        return []
    return [(f"{figure} (gunicorn's processes, /proc, median of rounds)", f"{ours:g} us",
             f"no-op {noop:g} us", _f(ratio, "", 3), "", "")]  # fmt: skip


def rows(results: dict) -> list[tuple[str, str, str, str, str, str]]:
    """(figure, trainq, baseline, ratio, goal, met) for every figure in `results`."""
    out = []
    s = results.get("submission") or {}
    if "error" in s:
        out.append(("1. Submission", "failed: " + s["error"], "", "", "", "n/a"))
    elif s:
        sub, nop = s["submit"], s["noop"]
        n = s["redis_commands_per_submission"]
        out += [
            ("1. Accepted POST /v1/teams/{team}/jobs per s", _f(sub["rate"], "/s"),
             f"no-op endpoint {_f(nop['rate'], '/s')}", _f(s["ratio_vs_noop"], "", 3),
             ">= 2,000/s and >= 0.7", _met(sub["rate"] >= 2000 and s["ratio_vs_noop"] >= 0.7)),
            ("1. ... ratio per round (each submit round / the no-op round before it), median",
             "", "", _f(s.get("ratio_vs_noop_median_of_rounds"), "", 3), ">= 0.7",
             _met((s.get("ratio_vs_noop_median_of_rounds") or 0) >= 0.7)),
            *_cpu_row("1. ... API server's CPU per accepted POST", sub.get("server_cpu_us"),
                      nop.get("server_cpu_us"), s.get("cpu_ratio_vs_noop")),
            ("1. ... against Redis", _f(sub["rate"], "/s"),
             f"redis-benchmark {s['redis_benchmark']['mean_commands_per_s']:,} cmd/s / "
             f"{n['total']} cmd per submission ({n['sent_by_api']} sent + {n['run_by_lua']} "
             f"in Lua) = {_f(s['redis_bound_rate'], '/s')}",
             _f(s["ratio_vs_redis"], "", 3), "", ""),
            ("1. ... Redis commands per submission as the queue grows",
             f"{s['redis_commands_per_submission_at_end']['total']} with "
             f"{s['redis_commands_per_submission_at_end']['queued_jobs']:,} queued",
             f"{n['total']} on an empty store", "", "", ""),
            ("1. Submission latency p50 / p99", f"{sub['p50_ms']} / {sub['p99_ms']} ms",
             f"no-op {nop['p50_ms']} / {nop['p99_ms']} ms", "", "", ""),
        ]  # fmt: skip
    d = results.get("dispatch") or {}
    if "error" in d:
        out.append(("2. Dispatch", "failed: " + d["error"], "", "", "", "n/a"))
    elif d:
        out += [
            (f"2. PyTorchJobs created per s ({d['n_queued']} queued, {d['workers']} workers)",
             _f(d["trainq_rate"], "/s"),
             f"raw kubernetes-client loop ({d['raw_threads']} threads) {_f(d['raw_rate'], '/s')}"
             + _pytorchjob_only(d),
             _f(d["ratio_vs_raw"], "", 3), ">= 0.9", _met(d["ratio_vs_raw"] >= 0.9)),
            *_dispatch_cpu_row(d),
            ("2. Submission to PyTorchJob exists, p50 / p99",
             f"{d['latency_p50_ms']} / {d['latency_p99_ms']} ms", "", "",
             "< 100 / < 500 ms",
             _met(d["latency_p50_ms"] < 100 and d["latency_p99_ms"] < 500)),
        ]  # fmt: skip
    st = results.get("status") or {}
    if "error" in st:
        out.append(("3. Status", "failed: " + st["error"], "", "", "", "n/a"))
    elif st:
        t, k, w = st["trainq"], st["apiserver"], st["trainq_wrk_c1"]
        out += [
            (f"3. GET job p50 / p99 ({st['jobs_in_store']:,} jobs in store)",
             f"{t['p50_ms']} / {t['p99_ms']} ms",
             f"apiserver GET of its PyTorchJob {k['p50_ms']} / {k['p99_ms']} ms",
             f"{st['speedup_p50']}x / {st['speedup_p99']}x faster", "p99 < 5 ms, >= 10x",
             _met(t["p99_ms"] < 5 and st["speedup_p50"] >= 10)),
            ("3. ... same GET from wrk -c1 (no Python client)",
             f"{w['p50_ms']} / {w['p99_ms']} ms", "", "", "", ""),
            (f"3. ... a queued job at the back of a {st['trainq_queued_tail']['queue_depth']:,}"
             "-deep queue", f"{st['trainq_queued_tail']['p50_ms']} / "
             f"{st['trainq_queued_tail']['p99_ms']} ms", "", "", "", ""),
        ]  # fmt: skip
        rv = st.get("rate_vs_noop")
        if rv:
            out += [
                ("3. GET job per s (wrk -c16), ratio per round (median)", _f(rv["rate"], "/s"),
                 f"no-op GET {_f(rv['noop_rate'], '/s')}",
                 f"{_f(rv['ratio_vs_noop'], '', 3)} ({_f(rv['ratio_median_of_rounds'], '', 3)})",
                 ">= 0.8", _met((rv["ratio_median_of_rounds"] or 0) >= 0.8)),
                *_cpu_row("3. ... API server's CPU per GET", rv.get("server_cpu_us"),
                          rv.get("noop_server_cpu_us"), rv.get("cpu_ratio_vs_noop")),
                ("3. ... apiserver reads of PyTorchJobs / TrainJobs per status read",
                 f"{rv['apiserver_workload_reads_per_read']} ({rv['reads']:,} reads)",
                 f"apiserver_request_total: {rv['apiserver_requests_during']:.0f} requests of "
                 f"any kind during the reads, {rv['apiserver_requests_idle']:.0f} idle as long",
                 "", "0", _met(rv["apiserver_workload_reads_per_read"] == 0)),
            ]  # fmt: skip
    sc = results.get("scale") or {}
    if "error" in sc:
        out.append(("4. Scale", "failed: " + sc["error"], "", "", "", "n/a"))
    elif sc:
        a = sc["admission"]
        mem = sc["memory_usage_one_job"]
        out += [
            (f"4. Enqueue per s, {sc['jobs_queued']:,} queued / {sc['teams']:,} teams",
             _f(sc["enqueue_full"]["rate"], "/s"),
             f"empty store {_f(sc['enqueue_empty']['rate'], '/s')}",
             _f(sc["enqueue_ratio"], "", 3), ">= 0.8", _met(sc["enqueue_ratio"] >= 0.8)),
            ("4. Admission decision p50 / p99",
             f"{a['decision']['p50_ms']} / {a['decision']['p99_ms']} ms",
             f"snapshot load from Redis {a['snapshot_load']['p50_ms']} / "
             f"{a['snapshot_load']['p99_ms']} ms with every queue changed"
             + (f", {a['snapshot_load_one_queue_changed']['p50_ms']} / "
                f"{a['snapshot_load_one_queue_changed']['p99_ms']} ms with one changed, "
                f"{a['snapshot_load_new_process']['p50_ms']} ms in a new process"
                if a.get("snapshot_load_one_queue_changed") else ""),
             a["policy"], "< 2 ms",
             _met(a["decision"]["p99_ms"] < 2)),
            *[(f"4. Worker decision incl. its snapshot load, {int(n):,} nodes known, "
               f"{sc['jobs_queued']:,} queued / {sc['teams']:,} teams (p50 / p99)",
               f"{d['p50_ms']} / {d['p99_ms']} ms", "placement-true; each load after one "
               "queue and one node changed (a worker's first load, which reads everything: "
               f"{d.get('first_load_ms', '?')} ms)", "", "p99 < 10 ms",
               _met(d["p99_ms"] < 10))
              for n, d in (a.get("decision_with_snapshot_by_nodes") or {}).items()],
            ("4. Redis memory per queued job", _f(sc["memory_per_job_bytes"], " B"),
             f"INFO used_memory delta over {sc['memory_jobs_counted']:,} jobs; one job's "
             f"record {mem['job_record']} B + RQ job {mem['rq_job']} B", "", "<= 2,048 B",
             _met(sc["memory_per_job_bytes"] <= 2048)),
        ]  # fmt: skip
    f = results.get("fairness") or {}
    if "error" in f:
        out.append(("5. Fairness", "failed: " + f["error"], "", "", "", "n/a"))
    elif f:
        adm, rr, fifo = (f[p]["jain_mean"] for p in ("admission", "round_robin", "fifo"))
        weights = ", ".join(f"{w:g}" for w in f["weights"].values())
        out.append((
            f"5. Jain index of use/weight under saturation (weights {weights}; the first team "
            "submits 4x)", f"{adm} (admission policy)", f"round robin {rr}, FIFO {fifo}",
            f"{round(adm / rr, 2)}x / {round(adm / fifo, 2)}x", "above both",
            _met(adm > rr and adm > fifo),
        ))  # fmt: skip
    d = results.get("decision") or {}
    if "error" in d:
        out.append(("4. Decision time by team count", "failed: " + d["error"], "", "", "", "n/a"))
    for n, fig in (d.get("by_teams") or {}).items():
        dec, full, rr = fig["decision"], fig["full_plan"], fig["round_robin"]
        out.append((
            f"4. Admission decision, {d['jobs']:,} queued over {n} teams (pure; p50 / p99)",
            f"{dec['p50_ms']} / {dec['p99_ms']} ms (full plan for the queue view "
            f"{full['p50_ms']} / {full['p99_ms']} ms)",
            f"round robin {rr['p50_ms']} / {rr['p99_ms']} ms", "", "< 2 ms",
            _met(dec["p99_ms"] < 2),
        ))  # fmt: skip
    shapes = {"fits": "room for every head, nothing running",
              "young_heads": "every head within the head-of-line bound"}  # fmt: skip
    for key, what in shapes.items():
        fig = d.get(key)
        if fig:
            dec = fig["decision"]
            out.append((
                f"4. Admission decision, {fig['jobs']:,} queued over {fig['teams']} teams, "
                f"{what} (pure; p50 / p99)", f"{dec['p50_ms']} / {dec['p99_ms']} ms", "", "",
                "< 2 ms", _met(dec["p99_ms"] < 2),
            ))  # fmt: skip
    pk = results.get("packing") or {}
    if "error" in pk:
        out.append(("4b. Packing", "failed: " + pk["error"], "", "", "", "n/a"))
    elif pk:
        b = pk["sum_only"]
        sized = f"size_credit_seconds {pk.get('size_credit_s')}: large gangs first in a team"
        for key, ratio, sim, how in (
            ("placement_true", "utilisation_ratio", "policy_zero_latency",
             "first come, first served in a team"),
            ("placement_true_size_credit", "utilisation_ratio_size_credit",
             "policy_zero_latency_size_credit", sized),
        ):  # fmt: skip
            a = pk.get(key)
            if not a:
                continue
            out.append((
                f"4b. GPU use while jobs wait, {a['jobs']} mixed gangs (1/2/4/8-gpu replicas) on "
                f"{pk['nodes']} kwok nodes / {pk['gpus']} gpus, real scheduler; {how}",
                f"{a['utilisation_while_waiting']} useful, {a['half_placed_jobs']} half-placed "
                "(placement-true)",
                f"sum-only {b['utilisation_while_waiting']} useful ({b['held_while_waiting']} "
                f"held), {b['half_placed_jobs']} half-placed",
                _f(pk.get(ratio), "x", 2), ">= 0.9, 0 half-placed",
                _met((a["utilisation_while_waiting"] or 0) >= 0.9 and a["half_placed_jobs"] == 0),
            ))  # fmt: skip
            if pk.get(sim):
                out.append((
                    "4b. ... the same admission code on the same workload with zero turnover "
                    "latency (simulated time: what the policy itself reaches)",
                    f"{pk[sim]['utilisation_while_waiting']} useful", "", "", "", "n/a",
                ))  # fmt: skip
    dp = results.get("depth") or {}
    if "error" in dp:
        out.append(("4c. Queue depth", "failed: " + dp["error"], "", "", "", "n/a"))
    elif dp:
        low, high = (dp["by_depth"][str(n)] for n in (dp["depths"][0], dp["depths"][-1]))
        names = {"submit": "submit", "submit_first": "submit ahead of every queued job",
                 "cancel": "cancel at the back", "admit": "admit (snapshot + decision + ADMIT)",
                 "status_page": "?status= page of a rare status"}  # fmt: skip
        for op, what in names.items():
            out.append((
                f"4c. {what}, {high['queued']:,} vs {low['queued']:,} queued in one team "
                "(p50 / p99)", f"{high[op]['p50_ms']} / {high[op]['p99_ms']} ms",
                f"{low[op]['p50_ms']} / {low[op]['p99_ms']} ms", _f(dp["p50_ratio"][op], "x", 2),
                "ratio <= 1.5", _met(dp["p50_ratio"][op] <= 1.5),
            ))  # fmt: skip
        out.append((
            f"4c. API admission view (every queue page and queued job read), {high['queued']:,} "
            f"vs {low['queued']:,} queued", f"{high['view_build']['p50_ms']} ms",
            f"{low['view_build']['p50_ms']} ms", _f(dp["view_build_ratio"], "x", 2), "", "n/a",
        ))  # fmt: skip
    out += reclaim_rows(results.get("reclaim") or {})
    out += redone_rows(results.get("redone") or {})
    i = results.get("idle") or {}
    if "error" in i:
        out.append(("5. Idle cost", "failed: " + i["error"], "", "", "", "n/a"))
    elif i:
        out.append((
            f"5. Worker CPU, {i['blocked_jobs']:,} jobs blocked by quota (mean per worker)",
            f"{i['mean_blocked']} % of a core", f"nothing queued {i['mean_empty']} %",
            f"+{round(i['mean_blocked'] - i['mean_empty'], 2)} points", "< 2 %",
            _met(i["mean_blocked"] < 2),
        ))  # fmt: skip
    return out


def reclaim_rows(rc: dict) -> list[tuple]:
    if "error" in rc:
        return [("4d. Reclaim", "failed: " + rc["error"], "", "", "", "n/a")]
    if not rc:
        return []
    a, never = rc["reclaim"], rc.get("no_preemption")
    base = (
        (
            f"no preemption: {never['p50_s']} s (borrowers' jobs of "
            f"{rc['borrower_run_for_s_baseline']} s; in production: hours)"
        )
        if never
        else ""
    )
    return [(
        f"4d. Entitled team's job, submission to admission, while another team's borrowed "
        f"jobs hold all {rc['gpus']} gpus ({a['samples']} jobs; p50 / p99)",
        f"{a['p50_s']} / {a['p99_s']} s ({a['preemptions']} preemptions)", base,
        _f(never["p50_s"] / a["p50_s"], "x", 1) if never and a["p50_s"] else "",
        "p99 < 10 s", _met(a["p99_s"] < 10),
    )]  # fmt: skip


def redone_rows(rd: dict) -> list[tuple]:
    if "error" in rd:
        return [("4e. Work redone", "failed: " + rd["error"], "", "", "", "n/a")]
    if not rd:
        return []
    m = rd["modes"]
    sig, epoch, none = m["sigterm"], m["epoch"], m["none"]
    same = "identical weights" if sig["identical_weights"] else "DIFFERENT weights"
    return [(
        f"4e. Replica-seconds of training redone, a real training run ({rd['reference_s']} s of "
        f"training, epochs of {rd.get('epoch_s', '?')} s) preempted every {rd['stops_s'][0]} s "
        "of training until done",
        f"{sig['redone_s']} s with SIGTERM checkpoints ({sig['attempts'] - 1} preemptions, "
        f"{same})",
        f"epoch checkpoints only {epoch['redone_s']} s ({epoch['attempts'] - 1}); none "
        f"{none['redone_s']} s ({none['attempts'] - 1}, then run whole)",
        _f(none["redone_s"] / sig["redone_s"], "x", 1) if sig["redone_s"] > 0 else "",
        "less than without", _met(sig["redone_s"] < none["redone_s"] and sig["identical_weights"]),
    )]  # fmt: skip


def table(results: dict) -> str:
    lines = ["| Figure | trainq | Baseline (same run) | Ratio | Goal | Met |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for row in rows(results):
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def machine_md(m: dict) -> str:
    return (
        f"- `nproc`: {m['nproc']}; CPU: {m['cpu_model']}; kernel {m['kernel']}; "
        f"Python {m['python']}; {m['redis']}; {m['wrk']}\n"
        f"- load average at start: {' '.join(m['loadavg_at_start'])}\n"
        f"- `free -g`:\n\n```\n{m['free_g']}\n```\n"
    )


BEGIN, END = "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->"


def generated_block(results: dict, table_md: str) -> str:
    return (
        f"{BEGIN}\n"
        f"Run {results['started']} → {results['finished']} (UTC), command `{results['command']}` "
        "(after `source k8s/local/env.sh`), on a **shared 2-core machine** where other "
        "engineers were running tests: absolute figures are noisy, which is why each is set "
        "beside a baseline measured in the same run.\n\n"
        f"{_reused(results)}"
        f"{machine_md(results['machine'])}\n"
        f"{table_md}\n\n"
        f"Sizes: `{json.dumps(results['sizes'])}`\n"
        f"{END}"
    )


def _reused(results: dict) -> str:
    reused = {k: v["from_run"] for k, v in results.items()
              if isinstance(v, dict) and "from_run" in v}  # fmt: skip
    if not reused:
        return ""
    names = ", ".join(f"{k} (run {run})" for k, run in reused.items())
    return f"Figures reused from an earlier run (`--reuse`): {names}.\n\n"


def write_results_md(results: dict, table_md: str) -> None:
    """Replace the generated block of RESULTS.md; the hand-written analysis around it stays."""
    replace_block(BEGIN, END, generated_block(results, table_md))


def replace_block(begin: str, end: str, block: str) -> None:
    """Put `block` (which starts with `begin` and ends with `end`) in RESULTS.md in place of
    the one between those markers, or append it when there is none."""
    text = RESULTS_MD.read_text() if RESULTS_MD.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS_MD.write_text(text)
