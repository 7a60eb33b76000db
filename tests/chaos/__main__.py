"""`make chaos` (python -m tests.chaos): 1,000 simulated jobs from 3 teams at a steady rate
while every fault of tests.chaos.faults lands once, in a seeded order. Needs the local control
plane to itself (it stops the apiserver, etcd and the operator): run it alone. Writes the
figures to benchmarks/results/chaos-<time>.json and its block of benchmarks/RESULTS.md."""

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from random import Random

from tests.chaos.faults import FAULTS, PRIVATE
from tests.chaos.harness import ChaosRun
from tests.support import REPO

RESULTS = REPO / "benchmarks" / "RESULTS.md"
BEGIN, END = "<!-- chaos:begin (written by make chaos) -->", "<!-- chaos:end -->"
GOALS = {"lost": 0, "duplicate_pytorchjobs": 0, "stuck": 0, "max_resume_s": 30}


def table(result: dict, source: str) -> str:
    def ok(name, value):
        return "yes" if value is not None and value <= GOALS[name] else "**no**"

    lines = [
        BEGIN,
        f"Command: `{result['command']}` (seed {result['seed']}); figures from `{source}`.",
        "",
        "| Measure | Result | Goal | Met |",
        "|---|---|---|---|",
        f"| Jobs accepted (3 teams, {result['rate_per_s']}/s) | {result['accepted']} of "
        f"{result['jobs']} | all | {'yes' if result['accepted'] == result['jobs'] else '**no**'} |",
    ]
    for name, label in (("lost", "Lost (accepted, no record)"),
                        ("duplicate_pytorchjobs", "Duplicate PyTorchJobs"),
                        ("stuck", "Stuck (not ended after the drain)")):  # fmt: skip
        lines.append(f"| {label} | {result[name]} | 0 | {ok(name, result[name])} |")
    lines += [
        f"| Fault end to dispatch resuming (max over {len(result['faults'])} faults) | "
        f"{result['max_resume_s']} s | < 30 s | {ok('max_resume_s', result['max_resume_s'])} |",
        f"| Status staleness, record vs PyTorchJob (p50 / p99 / max; "
        f"{result['staleness_samples']} transitions) | {result['staleness_p50_s']} / "
        f"{result['staleness_p99_s']} / {result['staleness_max_s']} s | | |",
        "",
        "| Fault | At | Took | Dispatch resumed after |",
        "|---|---|---|---|",
    ]
    for f in result["faults"]:
        resumed = "never" if f["resumed_s"] is None else f"{f['resumed_s']} s"
        lines.append(f"| {f['kind']}: {f['detail']} | {f['at_s']} s | {f['duration_s']} s | "
                     f"{resumed} |")  # fmt: skip
    lines += ["", f"By end status: {result['by_status']}; requeued (node lost, preempted): "
              f"{result['requeued_jobs']}; refused submission attempts (retried with the same "
              f"Idempotency-Key): {result['refused_submission_attempts']}; process restarts: "
              f"{result['respawns']}.", END]  # fmt: skip
    return "\n".join(lines)


def write_results(result: dict) -> Path:
    out = REPO / "benchmarks" / "results" / time.strftime("chaos-%Y-%m-%dT%H%M%SZ.json",
                                                          time.gmtime())  # fmt: skip
    out.write_text(json.dumps(result, indent=1) + "\n")
    text = RESULTS.read_text()
    block = table(result, out.relative_to(REPO).as_posix())
    if BEGIN in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) :]
    else:
        text = text.rstrip("\n") + "\n\n## Chaos (`make chaos`)\n\n" + block + "\n"
    RESULTS.write_text(text)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos", description=__doc__)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=2.0, help="submissions per second")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", default="all", help="all, private, or a comma list")
    parser.add_argument("--gap", type=float, default=10.0, help="mean pause between faults")
    parser.add_argument("--drain", type=float, default=600.0)
    args = parser.parse_args(argv)
    kinds = list(FAULTS) if args.faults == "all" else (
        PRIVATE if args.faults == "private" else args.faults.split(","))  # fmt: skip
    Random(args.seed).shuffle(kinds)
    kubeconfig = os.environ.get("KUBECONFIG", str(REPO / ".local/kubeconfig"))
    workdir = Path(tempfile.mkdtemp(prefix="trainq-chaos-"))
    run = ChaosRun(workdir, kubeconfig, args.jobs, args.rate, args.seed)
    print(f"chaos: {args.jobs} jobs at {args.rate}/s, faults {kinds}; logs in {workdir}")
    try:
        result = run.run(kinds, args.gap, args.drain)
    finally:
        run.close()
    result.update(seed=args.seed, command="make chaos" if argv is None and len(sys.argv) == 1
                  else "python -m tests.chaos " + " ".join(sys.argv[1:]))  # fmt: skip
    out = write_results(result)
    print(json.dumps({k: v for k, v in result.items() if k != "faults"}, indent=1))
    print(f"written {out} and {RESULTS}")
    met = all(result[k] is not None and result[k] <= g for k, g in GOALS.items())
    return 0 if met and result["accepted"] == result["jobs"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
