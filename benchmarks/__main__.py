"""`python -m benchmarks` (what `make bench` runs): every benchmark against its baseline in one
run, on loopback, against the running local control plane and Redis (k8s/local/env.sh).

Writes results/<UTC date-time>.json and .md and, unless --smoke, RESULTS.md (the latest table,
the machine and the command). --smoke runs each benchmark tiny (seconds), for `make test`.
`kueue` (trainq and Kueue side by side, benchmarks/sidebyside*.py; needs `k8s/local/build.sh
kueue`) runs in a full run without --only, and with --only kueue; never in --smoke's default.
"""

import argparse
import copy
import json
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from benchmarks import (
    decision,
    depth,
    dispatch,
    fairness,
    idle,
    kueue_report,
    packing,
    reclaim,
    redone,
    report,
    scale,
    sidebyside_load,
    status,
    submission,
)
from benchmarks.loadgen import ensure_wrk
from benchmarks.stack import BenchStack

HERE = Path(__file__).resolve().parent
FULL = {
    "submission": {"seconds": 5, "connections": 16, "rounds": 6},
    "dispatch": {"n": 200, "m": 100, "workers": 2},
    "status": {"jobs": 10_000, "samples": 2000, "wrk_seconds": 5},
    "scale": {"teams": 1000, "jobs": 100_000, "seconds": 10, "decision_repeats": 200},
    "idle": {"blocked": 10_000, "window_s": 30, "workers": 2},
    "fairness": {"per_team": 100, "capacity_jobs": 16, "duration": 10},
    "decision": {"team_counts": (10, 100, 1000), "jobs": 10_000, "repeats": 50},
    "packing": {"jobs": 30, "nodes": 4},
    "depth": {"depths": (1_000, 100_000), "samples": 200},
    "reclaim": {"nodes": 4, "rounds": 25, "entitled": 2},
    "redone": {"interruptions": 3},
    "kueue": {
        "flood": 100,
        "seed_rounds": 10,
        "reclaim_nodes": 4,
        "reclaim_rounds": 10,
        "entitled": 2,
        "mixed_jobs": 70,
        "mixed_nodes": 6,
        "mixed_run_for": (5, 20),
        "stream_jobs": 1000,  # --stream-jobs N runs fewer (issue 19's figure is 1,000)
        "stream_rate": 20.0,
        "stream_nodes": 4,
        "stream_run_for": 3,
    },
}
SMOKE = {
    "submission": {"seconds": 1, "connections": 4, "rounds": 1},
    "dispatch": {"n": 3, "m": 2, "workers": 1},
    "status": {"jobs": 30, "samples": 40, "wrk_seconds": 1},
    "scale": {"teams": 5, "jobs": 60, "seconds": 1, "decision_repeats": 20, "node_counts": (10,)},
    "idle": {"blocked": 50, "window_s": 2, "workers": 1},
    "fairness": {"per_team": 10, "capacity_jobs": 4, "duration": 3},
    "decision": {"team_counts": (2, 5), "jobs": 50, "repeats": 5},
    "packing": {"jobs": 4, "nodes": 1, "run_for": (2, 3), "head_wait": 1.0, "timeout_s": 90},
    "depth": {"depths": (20, 200), "samples": 10},
    "reclaim": {"nodes": 2, "rounds": 1, "entitled": 1, "baseline_run_for": 4},
    "redone": {"interruptions": 1, "env": {"EPOCHS": "2", "FC_SIZE": "256", "BATCH_SIZE": "32"}},
    "kueue": {
        "flood": 6,
        "seed_rounds": 1,
        "reclaim_nodes": 2,
        "reclaim_rounds": 1,
        "entitled": 1,
        "mixed_jobs": 4,
        "mixed_nodes": 1,
        "mixed_run_for": (2, 3),
        "stream_jobs": 30,
        "stream_rate": 10.0,
        "stream_nodes": 1,
        "stream_run_for": 2,
    },
}
ALL = (
    "submission",
    "dispatch",
    "status",
    "scale",
    "packing",
    "depth",
    "reclaim",
    "redone",
    "idle",
    "fairness",
    "decision",
)
# Run by a full run (no --only) and when named, never by --smoke's default (`make test`).
EXTRA = ("kueue",)


def _guarded(name: str, fn) -> dict:
    t0 = time.monotonic()
    print(f"[bench] {name} ...", flush=True)
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - one benchmark failing must not lose the others
        traceback.print_exc()
        out = {"error": f"{type(exc).__name__}: {exc}"}
    out["wall_seconds"] = round(time.monotonic() - t0, 1)
    print(f"[bench] {name} done in {out['wall_seconds']} s", flush=True)
    return out


def _stop(signum, _frame):
    # Unwind through the `finally` blocks: stacks stop their processes and delete their
    # PyTorchJobs. (A background job of a non-interactive shell ignores SIGINT; TERM works.)
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (seconds), for tests")
    names, extra = ",".join(ALL + EXTRA), ",".join(EXTRA)
    parser.add_argument(
        "--only", help=f"comma list of {names} (default: all; --smoke: not {extra})"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--db", type=int, default=int(os.environ.get("TRAINQ_BENCH_DB", "60")),
                        help="Redis DB for the benchmark stacks (emptied; depth also "
                             "empties the next one)")  # fmt: skip
    parser.add_argument(
        "--reuse",
        type=Path,
        help="an earlier run's JSON: its figures for benchmarks not in --only join this table",
    )
    parser.add_argument("--stream-jobs", type=int,
                        help="jobs in the side by side's steady stream (workload 3; default "
                             "1,000, --smoke 30)")  # fmt: skip
    args = parser.parse_args(argv)
    sizes = copy.deepcopy(SMOKE if args.smoke else FULL)
    if args.stream_jobs:
        sizes["kueue"]["stream_jobs"] = args.stream_jobs
    default = ALL if args.smoke else ALL + EXTRA
    only = [b.strip() for b in (args.only or ",".join(default)).split(",") if b.strip()]
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    ensure_wrk()
    work = args.out / "work"
    stamp = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    given = argv if argv is not None else sys.argv[1:]
    command = "make bench" if not given else "python -m benchmarks " + " ".join(given)
    results: dict = {"started": stamp, "command": command, "machine": report.machine(),
                     "sizes": {k: sizes[k] for k in only if k in sizes}}  # fmt: skip
    if args.reuse:
        earlier = json.loads(args.reuse.read_text())
        for name in ALL + EXTRA:
            if name not in only and name in earlier:
                run_id = earlier[name].get("from_run", earlier["started"])
                results[name] = {**earlier[name], "from_run": run_id}
                results["sizes"][name] = earlier["sizes"].get(name)
    args.out.mkdir(parents=True, exist_ok=True)
    json_path = args.out / f"{stamp}.json"

    def guarded(name: str, fn) -> None:
        results[name] = _guarded(name, fn)
        json_path.write_text(json.dumps(results, indent=2) + "\n")  # partial results survive

    if {"submission", "dispatch", "status"} & set(only):
        stack = BenchStack(work / "main", args.db)
        try:
            stack.start_api()
            stack.start_watcher()  # capacity for admission, reservations given back
            if {"submission", "status"} & set(only):
                stack.start_noop()
            if "submission" in only:
                guarded("submission", lambda: submission.run(stack, **sizes["submission"]))
            if "dispatch" in only:
                guarded("dispatch", lambda: dispatch.run(stack, **sizes["dispatch"]))
            if "status" in only:
                guarded("status", lambda: status.run(stack, **sizes["status"]))
        finally:
            stack.close()
    if "scale" in only:
        sz = dict(sizes["scale"])
        stack = scale.make_stack(work / "scale", args.db, sz.pop("teams"))
        try:
            stack.start_api()
            guarded("scale", lambda: scale.run(stack, **sz))
        finally:
            stack.close()
    if "packing" in only:
        guarded("packing", lambda: packing.run(work / "packing", args.db, **sizes["packing"]))
    if "depth" in only:  # (it uses the DB after --db too)
        guarded("depth", lambda: depth.run(work / "depth", args.db, **sizes["depth"]))
    if "reclaim" in only:
        guarded("reclaim", lambda: reclaim.run(work / "reclaim", args.db, **sizes["reclaim"]))
    if "redone" in only:
        guarded("redone", lambda: redone.run(work / "redone", **sizes["redone"]))
    if "idle" in only:
        stack = idle.make_stack(work / "idle", args.db)
        try:
            stack.start_api()
            guarded("idle", lambda: idle.run(stack, **sizes["idle"]))
        finally:
            stack.close()
    if "fairness" in only:
        guarded("fairness", lambda: fairness.run(**sizes["fairness"]))
    if "decision" in only:
        guarded("decision", lambda: decision.run(**sizes["decision"]))
    if "kueue" in only:  # Kueue runs only inside this, on nodes of its own
        guarded("kueue", lambda: sidebyside_load.run(work / "kueue", args.db, **sizes["kueue"]))
    results["finished"] = time.strftime("%Y-%m-%dT%H%M%SZ", time.gmtime())
    json_path.write_text(json.dumps(results, indent=2) + "\n")
    table = report.table(results) if any(k in results for k in ALL) else ""
    (args.out / f"{stamp}.md").write_text(table + "\n")
    print(table)
    if not args.smoke and any(k in results for k in ALL):
        report.write_results_md(results, table)
    if "kueue" in results:
        side = kueue_report.table(results["kueue"])
        (args.out / f"{stamp}.md").write_text((table + "\n\n" if table else "") + side + "\n")
        print(side)
        if not args.smoke:
            kueue_report.write_results_md(results)
    failed = [k for k in ALL + EXTRA if "error" in (results.get(k) or {})]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
