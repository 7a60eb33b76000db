"""Logs that outlive pods: when a job ends the watcher keeps the last KEEP_BYTES of each
replica's log here (`keys.run_logs`) for the retention period (`retention.finished_seconds`,
the record's own), and the logs endpoint serves this copy once the pods are gone. Also the
pure checks of which replica a request names."""

from redis import Redis

from wrapper.clock import utcnow
from wrapper.redis import keys

KEEP_BYTES = 1024 * 1024
REPLICAS = ("Master", "Worker")
CONTAINER = "pytorch"  # the training container (queue_workers.kube.pytorchjob.CONTAINER)
# A TrainJob's (Trainer v2) pods: JobSet names them with a random suffix, so a replica's pod is
# found by its labels (queue_workers.kube.trainjob: the `node` replicated job and container).
TRAINJOB_CONTAINER = "node"
TRAINJOB_POD = "jobset.sigs.k8s.io/jobset-name={name},batch.kubernetes.io/job-completion-index={i}"
ARCHIVED_AT = "archived_at"


def replica_field(replica: str, index: int) -> str:
    return f"{replica}-{index}"


def pod_of(record: dict, replica: str, index: int) -> tuple[str | None, str | None, str]:
    """Where a replica's log is: (pod name, None, container) for a PyTorchJob's, or (None,
    label selector, container) for a TrainJob's, whose node 0 is the Master and 1.. the
    Workers."""
    name = record["pytorchjob"]["name"]
    if record.get("backend") == "trainjob":
        node = 0 if replica == "Master" else 1 + index
        return None, TRAINJOB_POD.format(name=name, i=node), TRAINJOB_CONTAINER
    return pod_name(name, replica, index), None, CONTAINER


def pod_name(pytorchjob_name: str, replica: str, index: int) -> str:
    """The operator names a replica's pod `<job>-<replica type, lower case>-<index>`."""
    return f"{pytorchjob_name}-{replica.lower()}-{index}"


def replica_count(spec: dict, replica: str) -> int:
    return 1 if replica == "Master" else int(spec.get("workers") or 0)


def replicas_of(spec: dict) -> list[tuple[str, int]]:
    return [(r, i) for r in REPLICAS for i in range(replica_count(spec, r))]


def last_bytes(data: bytes, limit: int = KEEP_BYTES) -> bytes:
    """The last `limit` bytes, starting after a line break when one is near the cut (so the
    kept copy does not open with half a line)."""
    if len(data) <= limit:
        return data
    cut = data[-limit:]
    newline = cut.find(b"\n", 0, 4096)
    return cut[newline + 1 :] if newline >= 0 else cut


def tail_lines(data: bytes, lines: int | None) -> bytes:
    if lines is None:
        return data
    if lines <= 0:
        return b""
    return b"".join(data.splitlines(keepends=True)[-lines:])


class LogArchive:
    def __init__(self, client: Redis):
        self.redis = client

    def keep(self, job_id: int, logs: dict[tuple[str, int], bytes], ttl: int,
             final: bool = True) -> None:  # fmt: skip
        """Keep the replicas' logs (each cut to its last KEEP_BYTES) for `ttl` seconds, over
        what an earlier read kept of the same replica; `final` marks the job's logs kept."""
        key = keys.run_logs(job_id)
        fields = {replica_field(r, i): last_bytes(data) for (r, i), data in logs.items()}
        if final:
            fields[ARCHIVED_AT] = utcnow()
        if not fields:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=fields)
            pipe.expire(key, ttl)
            pipe.execute()

    def archived(self, job_id: int) -> bool:
        return bool(self.redis.hexists(keys.run_logs(job_id), ARCHIVED_AT))

    def read(self, job_id: int, replica: str, index: int) -> bytes | None:
        return self.redis.hget(keys.run_logs(job_id), replica_field(replica, index))
