"""`make demo`: train a real model through trainq. Submits an intent-classification job (1 Master
+ 1 Worker running `python -m trainers.intent_classification`) for team `local` through trainq's
HTTP API, prints its progress until it finishes, then the model's test accuracy and training
time from the manifest the trainer wrote. Exits 0 when it succeeded.

Team `local` is pinned (node_selector + toleration) to the node agent's node, whose pods are real
processes on this host: the real operator creates the pods, they rendezvous over gloo and train
with DDP, and MODEL_DIR is a directory of this host (under .local/demo/).

Which kind runs it is team local's `backend` (k8s/local/trainq.yaml: PyTorchJob); `make demo
BACKEND=trainjob` runs trainq with every team on Kubeflow Trainer v2, so the same job becomes a
TrainJob whose JobSet's two `node` pods the node agent runs (the trainer reads Trainer v2's
PET_* env). The demo prints the backend that ran the job and the weights' sha256: the same seed
gives the same weights on either backend.

`--simulated` submits the old sample job instead: team alpha, 1 Master + 2 Workers on the kwok
nodes, where pods are scheduled and "run" for a few seconds but no container starts."""

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = Path(os.environ.get("TRAINQ_LOCAL", REPO / ".local"))
BASE = f"http://127.0.0.1:{os.environ.get('TRAINQ_API_PORT', '8080')}"
TIMEOUT_S = 300
# The record's `backend` -> the workload's kind, its plural for kubectl, its pods' selector.
KINDS = {
    "pytorchjob": ("PyTorchJob", "pytorchjobs", "training.kubeflow.org/job-name={}"),
    "trainjob": ("TrainJob", "trainjobs", "jobset.sigs.k8s.io/jobset-name={}"),
}
NAME = f"demo-{int(time.time())}"


def real_job(out: Path, name: str = NAME) -> dict:
    """The training job the demo submits (tests/integration/test_real_training.py submits the
    same body, so the demo cannot drift from what the suite proves)."""
    return {
        "name": name,
        # The local node ignores images; trainq checks the name against its allowed prefixes.
        "image": "ghcr.io/trainq/intent-classification:0.1.0",
        "command": ["python", "-m", "trainers.intent_classification"],
        "workers": 1,
        # Small, so both replicas fit the local node (it advertises this machine's CPUs).
        "resources": {"cpu": "500m", "memory": "1Gi"},
        # Bad input exits 1-127 (not retried); a lost peer exits 128+ and resumes.
        "restart_policy": "ExitCode",
        "backoff_limit": 2,
        "max_runtime_seconds": 1800,
        "env": {
            "EPOCHS": "10",
            "LR": "0.01",
            "BATCH_SIZE": "32",
            "FC_SIZE": "128",
            "SEED": "42",
            "TRAINING_DATA_PATH": str(REPO / "trainers/intent_classification/data"),
            # No CHECKPOINT_DIR: team local's checkpoint claim sets it (one directory per job
            # under .local/volumes/team-local/trainq-checkpoints/), so a suspended job resumes.
            "MODEL_DIR": str(out / "model"),
            "MODEL_NAME": "intent-demo",
        },
        "dataset": {"id": "intents-bundled", "version_hash": "v1"},
        "labels": {"purpose": "demo"},
    }


SIMULATED_JOB = {
    "name": NAME,
    "image": "docker.io/pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime",
    "command": ["torchrun", "train.py"],
    "args": ["--epochs", "3"],
    "env": {"LEARNING_RATE": "0.001", "BATCH_SIZE": "64"},
    "workers": 2,
    "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1},
    "dataset": {"id": "imdb-reviews", "version_hash": "hashDg=="},
    "labels": {"purpose": "demo"},
    # Ask the simulator to keep the pods running a little, so progress is visible.
    "annotations": {"trainq.dev/sim-run-for": "6s"},
}


def call(method: str, path: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)  # noqa: S310
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_ready(token: str) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            status, body = call("GET", "/readyz", token)
            if status == 200:
                return
            detail = body.get("detail")
        except (urllib.error.URLError, ConnectionError) as exc:
            detail = str(exc)
        if time.monotonic() > deadline:
            sys.exit(f"trainq is not ready at {BASE}: {detail}")
        time.sleep(1)


def replicas(rec: dict) -> str:
    def fmt(counts):
        return "active={active} succeeded={succeeded} failed={failed}".format(**counts)

    return " ".join(f"{rtype}[{fmt(counts)}]" for rtype, counts in rec["replicas"].items())


def follow(team: str, token: str, rec: dict) -> dict:
    """Prints each change of status and replica counts, and the operator's conditions, until
    the job finishes (or TIMEOUT_S passes); returns the last record."""
    job_path = f"/v1/teams/{team}/jobs/{rec['id']}"
    start, last, conditions_seen = time.monotonic(), None, 0
    while True:
        elapsed = f"[{time.monotonic() - start:5.1f}s]"
        line = f"{rec['status']:<11} {replicas(rec)}"
        if rec["status"] == "queued":
            line += f" position={rec['position']}"
        if line != last:
            print(f"{elapsed} {line}", flush=True)
            last = line
        # The operator's own milestones (Created, Running, Succeeded...), even those that
        # passed between two polls.
        for cond in rec["conditions"][conditions_seen:]:
            kind = KINDS.get(rec.get("backend") or "", ("workload",))[0]
            print(f"{elapsed}   {kind} condition {cond['type']}={cond['status']}: "
                  f"{cond['message']}", flush=True)  # fmt: skip
        conditions_seen = len(rec["conditions"])
        if rec["status"] in ("succeeded", "failed", "cancelled"):
            return rec
        if time.monotonic() - start > TIMEOUT_S:
            print(f"job still {rec['status']} after {TIMEOUT_S}s")
            return rec
        time.sleep(0.2)
        status, body = call("GET", job_path, token)
        if status != 200:
            print(f"reading the job failed ({status}): {body}")
            return rec
        rec = body


def report_model(model_dir: Path) -> bool:
    """Prints what the trainer wrote: per-epoch metrics, test accuracy, training time."""
    try:
        manifest = json.loads((model_dir / "manifest.json").read_text())
        epochs = [json.loads(x) for x in (model_dir / "metrics.jsonl").read_text().splitlines()]
    except (OSError, ValueError) as exc:
        print(f"no complete model in {model_dir}: {exc}")
        return False
    for e in epochs:
        print(f"  epoch {e['epoch']:>2}: train_loss={e['train_loss']:.4f} "
              f"val_accuracy={e['val_accuracy']:.4f} ({e['seconds']:.2f}s)")  # fmt: skip
    m, dist = manifest["metrics"], manifest["distributed"]
    ddp = f"world_size={dist['world_size']} backend={dist['backend']} on {dist['device']}"
    print(f"model: {manifest['algorithm']}, {len(manifest['classes'])} classes, DDP {ddp}")
    print(f"test accuracy: {m['test_accuracy']:.4f}   training time (epochs): "
          f"{m['training_seconds']:.2f}s")  # fmt: skip
    print(f"weights: {model_dir / manifest['weights']['file']}")
    print(f"weights sha256: {manifest['weights']['sha256']}")
    return True


def report_channel(team: str, token: str, job_id: int) -> None:
    """What the trainer reported to trainq (docs/observability.md), and where to see it."""
    status, got = call("GET", f"/v1/teams/{team}/jobs/{job_id}/metrics", token)
    final = (got.get("final") or {}) if status == 200 else {}
    if final:
        shown = ", ".join(f"{k}={v:.4f}" for k, v in sorted(final.items())
                          if k.startswith("test_") and isinstance(v, float))  # fmt: skip
        print(f"reported to trainq: {len(got['epochs'])} epochs; {shown}")
    else:
        print(f"no metrics reported to trainq ({status}): is dispatch.metrics_url {BASE}?")
    auth = "Authorization: Bearer " + ("$TRAINQ_DEMO_TOKEN" if os.environ.get(
        "TRAINQ_DEMO_TOKEN") else token)  # fmt: skip
    job = f"{BASE}/v1/teams/{team}/jobs/{job_id}"
    print(f"training metrics: curl -s -H '{auth}' {job}/metrics")
    runs = f"{BASE}/v1/teams/{team}/runs?dataset_id=intents-bundled&sort=-test_accuracy"
    print(f"run comparison: curl -s -H '{auth}' '{runs}'")
    print(f"logs (kept after the pods are gone): curl -s -H '{auth}' "
          f"'{job}/logs?replica=Master&tail=20'")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--simulated", action="store_true",
                        help="submit a simulated job for team alpha on the kwok nodes")  # fmt: skip
    args = parser.parse_args()
    team = "alpha" if args.simulated else "local"
    token = os.environ.get("TRAINQ_DEMO_TOKEN", f"{team}-dev-token")
    out = LOCAL / "demo" / NAME
    job = SIMULATED_JOB if args.simulated else real_job(out)

    wait_ready(token)
    submitted_at = time.monotonic()
    status, rec = call("POST", f"/v1/teams/{team}/jobs", token, job)
    if status != 202:
        print(f"submission failed ({status}): {json.dumps(rec, indent=2)}")
        return 1
    print(f"submitted job {rec['id']} ({NAME}) for team {team}: "
          f"{BASE}/v1/teams/{team}/jobs/{rec['id']}")  # fmt: skip
    shown = "$TRAINQ_DEMO_TOKEN" if os.environ.get("TRAINQ_DEMO_TOKEN") else token
    cli = Path(sys.executable).parent / "trainq"  # make venv installs it beside python
    cli = os.path.relpath(cli) if cli.exists() else "trainq"
    print(f"watch it with the CLI (docs/cli.md): TRAINQ_TOKEN={shown} {cli} status "
          f"{rec['id']} --watch --team {team} --url {BASE}")  # fmt: skip
    if not args.simulated:
        print(f"training {job['command'][-1]} with 1 Master + {job['workers']} Worker on the "
              f"local node; outputs in {out}")  # fmt: skip
    rec = follow(team, token, rec)
    wall = time.monotonic() - submitted_at
    ref = rec["pytorchjob"] or {}
    backend = rec.get("backend") or "pytorchjob"
    kind, plural, pods = KINDS.get(backend, KINDS["pytorchjob"])
    print(f"{rec['status']}: {rec['reason']} - {rec['message']}")
    print(f"backend: {backend} ({kind} {ref.get('namespace')}/{ref.get('name')}); started "
          f"{rec['started_at']}, finished {rec['finished_at']}; "
          f"{wall:.1f}s from submission")  # fmt: skip
    ok = rec["status"] == "succeeded"
    if not args.simulated and ok:
        ok = report_model(out / "model")
    namespace, name = ref.get("namespace"), ref.get("name")
    print(f"see it with: kubectl get {plural} -n {namespace} -l trainq.dev/team={team}")
    # (the ports k8s/local/trainq-up.sh gives them)
    api_m, worker_m, watcher_m = (os.environ.get(k, d) for k, d in (
        ("TRAINQ_METRICS_PORT", "18090"), ("TRAINQ_WORKER1_METRICS_PORT", "18091"),
        ("TRAINQ_WATCHER_METRICS_PORT", "18093")))  # fmt: skip
    print(
        f"metrics (docs/observability.md): curl -s 127.0.0.1:{watcher_m}/metrics (the watcher: "
        f"team gauges, finished jobs), :{worker_m} (a worker: admissions), :{api_m} (the API)"
    )
    if not args.simulated and name:
        report_channel(team, token, rec["id"])
        if backend == "trainjob":  # node 0 is the Master; its pod's name has a random suffix
            selector = pods.format(name) + ",batch.kubernetes.io/job-completion-index=0"
            print(f"master's log: kubectl logs -n {namespace} -l {selector} -c node --tail=-1")
        else:
            print(f"master's log: kubectl logs -n {namespace} {name}-master-0")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
