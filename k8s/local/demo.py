"""`make demo`: submit a sample training job (1 Master + 2 Workers) for team alpha through
trainq's HTTP API and print its progress until it finishes. Exits 0 when it succeeded.

The local cluster's nodes are simulated (kwok): pods are scheduled, run for a few seconds and
finish, but no container actually starts, so any allowed image will do."""

import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = f"http://127.0.0.1:{os.environ.get('TRAINQ_API_PORT', '8080')}"
TOKEN = os.environ.get("TRAINQ_DEMO_TOKEN", "alpha-dev-token")
TIMEOUT_S = 300
JOB = {
    "name": f"demo-{int(time.time())}",
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


def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(BASE + path, data=data, method=method)  # noqa: S310
    request.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_ready() -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            status, body = call("GET", "/readyz")
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

    return f"Master[{fmt(rec['replicas']['Master'])}] Worker[{fmt(rec['replicas']['Worker'])}]"


def main() -> int:
    wait_ready()
    status, rec = call("POST", "/v1/teams/alpha/jobs", JOB)
    if status != 202:
        print(f"submission failed ({status}): {json.dumps(rec, indent=2)}")
        return 1
    job_path = f"/v1/teams/alpha/jobs/{rec['id']}"
    print(f"submitted job {rec['id']} ({JOB['name']}) for team alpha: {BASE}{job_path}")
    start, last, conditions_seen = time.monotonic(), None, 0
    while True:
        elapsed = f"[{time.monotonic() - start:5.1f}s]"
        line = f"{rec['status']:<11} {replicas(rec)}"
        if rec["status"] == "queued":
            line += f" position={rec['position']}"
        if line != last:
            print(f"{elapsed} {line}")
            last = line
        # The operator's own milestones (Created, Running, Succeeded...), even those that
        # passed between two polls.
        for cond in rec["conditions"][conditions_seen:]:
            print(f"{elapsed}   PyTorchJob condition {cond['type']}={cond['status']}: "
                  f"{cond['message']}")  # fmt: skip
        conditions_seen = len(rec["conditions"])
        if rec["status"] in ("succeeded", "failed", "cancelled"):
            break
        if time.monotonic() - start > TIMEOUT_S:
            print(f"job still {rec['status']} after {TIMEOUT_S}s")
            return 1
        time.sleep(0.2)
        status, rec = call("GET", job_path)
        if status != 200:
            print(f"reading the job failed ({status}): {rec}")
            return 1
    ref = rec["pytorchjob"] or {}
    print(f"{rec['status']}: {rec['reason']} - {rec['message']}")
    print(f"PyTorchJob {ref.get('namespace')}/{ref.get('name')}; started {rec['started_at']}, "
          f"finished {rec['finished_at']}")  # fmt: skip
    namespace = ref.get("namespace")
    print(f"see it with: kubectl get pytorchjobs -n {namespace} -l trainq.dev/team=alpha")
    return 0 if rec["status"] == "succeeded" else 1


if __name__ == "__main__":
    sys.exit(main())
