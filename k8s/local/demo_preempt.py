"""`make demo-preempt`: a real training job is preempted mid-training by a higher-priority job of
its team, resumes after it from its checkpoint, and ends with the same weights as an
uninterrupted run.

Team `local` (the node agent's node, real processes) may preempt its own lower-priority jobs
(`preemption.within_team: LowerPriority` in k8s/local/trainq.yaml), and its quota (4 cpu) holds
one of these jobs (1 Master + 1 Worker, sized from the local node's cpus so that the node or
the quota holds one job, not two) at a time. The demo:

1. trains the job once, uninterrupted: the reference weights sha256;
2. trains it again (priority 0) and, once it has written a checkpoint mid-training, submits a
   short job of priority 10: the watcher preempts the first (its PyTorchJob suspended, its pods
   get SIGTERM and checkpoint at the step where both ranks stop), the urgent job runs, and the
   first is admitted again and resumes on its same PyTorchJob from its checkpoint;
3. prints the timeline and compares the weights. Exits 0 when they are identical."""

import json
import sys
import time

from demo import LOCAL, call, real_job, report_model, wait_ready

TEAM, TOKEN = "local", "local-dev-token"
STAMP = int(time.time())
OUT = LOCAL / "demo" / f"preempt-{STAMP}"
CLAIM_DIR = LOCAL / "volumes" / "team-local" / "trainq-checkpoints"
# Epochs long enough (a few seconds each here) that the preemption lands mid-training.
ENV = {"EPOCHS": "8", "FC_SIZE": "4096", "BATCH_SIZE": "8"}
TIMEOUT_S = 900


def replica_millicpu() -> int:
    """A replica's cpu such that one job (2 replicas) fits team local's node and quota (4 cpu),
    two do not: 35% of the node's cpus, at most 1.5 (then the quota is what holds one)."""
    status, view = call("GET", "/v1/queues", "admin-dev-token")
    if status != 200:
        sys.exit(f"reading the pools failed ({status}): {view}")
    (pool,) = [p for p in view["pools"] or [] if TEAM in p["teams"]]
    cpu = pool["nodes"][0]["allocatable"]["cpu"]
    node = int(cpu[:-1]) if cpu.endswith("m") else int(float(cpu) * 1000)
    return min(node * 35 // 100, 1500)


def body(name: str, priority: int, env: dict, millicpu: int) -> dict:
    job = real_job(OUT / name, name=name)
    job["env"].update(env)
    job["priority"] = priority
    job["resources"] = {"cpu": f"{millicpu}m", "memory": "1Gi"}
    return job


def submit(job: dict) -> dict:
    status, rec = call("POST", f"/v1/teams/{TEAM}/jobs", TOKEN, job)
    if status != 202:
        sys.exit(f"submission failed ({status}): {rec}")
    return rec


def read(job_id: int) -> dict:
    status, rec = call("GET", f"/v1/teams/{TEAM}/jobs/{job_id}", TOKEN)
    if status != 200:
        sys.exit(f"reading job {job_id} failed ({status}): {rec}")
    return rec


class Timeline:
    """Prints each job's status changes and trainq's Preempted condition as they happen."""

    def __init__(self) -> None:
        self.t0 = time.monotonic()
        self.seen: dict[int, tuple] = {}

    def show(self, label: str, rec: dict) -> None:
        active = sum(r["active"] for r in rec["replicas"].values())
        key = (rec["status"], active, rec.get("preemptions"))
        if self.seen.get(rec["id"]) == key:
            return
        before = self.seen.get(rec["id"])
        self.seen[rec["id"]] = key
        at = f"[{time.monotonic() - self.t0:6.1f}s]"
        print(f"{at} {label} (job {rec['id']}): {rec['status']}, {active} replicas running",
              flush=True)  # fmt: skip
        if before and before[2] != key[2]:
            (cond, *_) = [c for c in reversed(rec["conditions"]) if c["type"] == "Preempted"]
            print(f"{at}   condition Preempted ({cond['reason']}): {cond['message']}", flush=True)


def trainer_lines(job_id: int) -> list[str]:
    """What the Master said about stopping and resuming (the node agent keeps pod logs)."""
    logs = sorted((LOCAL / "nodeagent" / "logs").glob(f"team-local_tq-{job_id}-master-0_*/*.log"),
                  key=lambda p: p.stat().st_mtime)  # fmt: skip
    return [line.strip() for p in logs for line in p.read_text(errors="replace").splitlines()
            if line.startswith(("SIGTERM:", "resumed from checkpoint"))]  # fmt: skip


def until(what: str, done, timeline: Timeline, jobs: dict[str, int]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        for label, job_id in jobs.items():
            timeline.show(label, read(job_id))
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.3)
    for label, job_id in jobs.items():
        timeline.show(label, read(job_id))


def finished(job_id: int) -> bool:
    return read(job_id)["status"] in ("succeeded", "failed", "cancelled")


def sha(name: str) -> str | None:
    try:
        manifest = json.loads((OUT / name / "model" / "manifest.json").read_text())
    except (OSError, ValueError):
        return None
    return manifest["weights"]["sha256"]


def main() -> int:
    wait_ready(TOKEN)
    cpu = replica_millicpu()
    timeline = Timeline()
    print("1. the reference: the job trained once, uninterrupted", flush=True)
    ref = submit(body("reference", 0, ENV, cpu))["id"]
    until("the reference run", lambda: finished(ref), timeline, {"reference": ref})
    if read(ref)["status"] != "succeeded" or not report_model(OUT / "reference" / "model"):
        return 1

    print("\n2. the same job again (priority 0), preempted mid-training by priority 10", flush=True)
    victim = submit(body("preempted", 0, ENV, cpu))
    name = f"tq-{victim['id']}" if not victim.get("pytorchjob") else victim["pytorchjob"]["name"]
    jobs = {"priority 0": victim["id"]}

    def checkpointed() -> bool:
        rec = read(victim["id"])
        ref_name = (rec.get("pytorchjob") or {}).get("name") or name
        return rec["status"] == "running" and (CLAIM_DIR / ref_name / "checkpoint.pt").exists()

    until("a first checkpoint of the priority-0 job", checkpointed, timeline, jobs)
    urgent = submit(body("urgent", 10, {**ENV, "EPOCHS": "2"}, cpu))["id"]
    jobs["priority 10"] = urgent
    until("both jobs to finish", lambda: finished(victim["id"]) and finished(urgent), timeline,
          jobs)  # fmt: skip
    rec = read(victim["id"])
    for line in trainer_lines(victim["id"]):
        print(f"  master: {line}")
    print(f"priority-0 job: {rec['status']}, preempted {rec['preemptions']} time(s), ran "
          f"{rec['run_seconds']} s in all")  # fmt: skip
    if rec["status"] != "succeeded" or not report_model(OUT / "preempted" / "model"):
        return 1
    a, b = sha("reference"), sha("preempted")
    same = a is not None and a == b
    print(f"\n3. weights sha256: uninterrupted {a}\n                   preempted     {b}\n"
          f"   {'identical' if same else 'DIFFERENT'}")  # fmt: skip
    return 0 if same and rec["preemptions"] >= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
