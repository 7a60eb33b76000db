"""The side-by-side table (trainq vs Kueue, benchmarks/sidebyside.py) and its block in
RESULTS.md (between KUEUE_BEGIN and KUEUE_END), written by a run that measured it."""

from benchmarks.report import RESULTS_MD

KUEUE_BEGIN = "<!-- kueue:begin (written by make bench) -->"
KUEUE_END = "<!-- kueue:end -->"


def _lat(side: dict) -> str:
    if "error" in side:
        return "failed: " + side["error"]
    if not side.get("samples"):
        return "no samples"
    return f"{side['p50_s']} / {side['p99_s']} s (max {side['max_s']}; {side['samples']} jobs)"


def _cpu(side: dict) -> str:
    return f"{side['cpu_s']} CPU-s over {side['window_s']} s" if "cpu_s" in side else ""


def _met(trainq: dict, kueue: dict) -> str:
    if not trainq.get("samples") or not kueue.get("samples"):
        return "n/a"
    return "yes" if trainq["p99_s"] <= kueue["p99_s"] else "**no**"


def rows(kq: dict) -> list[tuple[str, str, str, str]]:
    if "error" in kq:
        return [("Side by side with Kueue", "failed: " + kq["error"], "", "n/a")]
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
    lines = [f"| Workload | trainq | Kueue {version} | trainq p99 <= Kueue's |",
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
        "(trainq: created; Kueue: unsuspended).\n\n"
        f"{table(results['kueue'])}\n\n"
        f"Sizes: `{results['sizes'].get('kueue')}`\n"
        f"{KUEUE_END}"
    )


def write_results_md(results: dict) -> None:
    """Replace the side-by-side block of RESULTS.md (appended if missing)."""
    text = RESULTS_MD.read_text()
    new = block(results)
    if KUEUE_BEGIN in text and KUEUE_END in text:
        head, rest = text.split(KUEUE_BEGIN, 1)
        text = head + new + rest.split(KUEUE_END, 1)[1]
    else:
        text = text.rstrip() + "\n\n" + new + "\n"
    RESULTS_MD.write_text(text)
