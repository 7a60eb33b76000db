"""The per-job metrics token (one job's, stable across dispatches, checked in constant time),
its injection into every replica's env, and the pure parts of the kept logs."""

from queue_workers.kube import pytorchjob
from tests.unit.conftest import record
from wrapper.runs import logs, tokens


def test_the_token_names_one_job():
    a, b = record(7), record(8)
    assert tokens.valid(a, tokens.metrics_token(a))
    assert not tokens.valid(b, tokens.metrics_token(a))
    assert not tokens.valid({**a, "uid": "another"}, tokens.metrics_token(a))
    assert not tokens.valid(a, "") and not tokens.valid({**a, "uid": None}, "x")
    assert tokens.metrics_token(a) == tokens.metrics_token(dict(a))  # stable: same on re-dispatch


def env_of(body: dict, rtype: str) -> dict:
    (container,) = body["spec"]["pytorchReplicaSpecs"][rtype]["template"]["spec"]["containers"]
    return {e["name"]: e["value"] for e in container["env"]}


def test_every_replica_gets_the_channel_when_configured():
    rec = record(7)
    body = pytorchjob.build(rec, "team-alpha", "tq", metrics_url="http://trainq.example:8080/")
    for rtype in ("Master", "Worker"):
        env = env_of(body, rtype)
        assert (
            env["TRAINQ_METRICS_URL"] == "http://trainq.example:8080/v1/teams/alpha/jobs/7/metrics"
        )
        assert env["TRAINQ_METRICS_TOKEN"] == tokens.metrics_token(rec)
    plain = pytorchjob.build(rec, "team-alpha", "tq")
    assert "TRAINQ_METRICS_TOKEN" not in env_of(plain, "Master")


def test_kept_logs_are_cut_at_a_line_and_tailed():
    data = b"".join(b"line %d\n" % i for i in range(200_000))
    kept = logs.last_bytes(data)
    assert len(kept) <= logs.KEEP_BYTES and kept.startswith(b"line ") and data.endswith(kept)
    assert logs.tail_lines(b"a\nb\nc", 2) == b"b\nc" and logs.tail_lines(b"a\n", None) == b"a\n"
    assert logs.pod_name("tq-7", "Worker", 1) == "tq-7-worker-1"
    assert logs.replicas_of({"workers": 2}) == [("Master", 0), ("Worker", 0), ("Worker", 1)]


def test_a_pytorchjob_replica_s_pod_is_named_a_trainjob_s_is_found_by_its_node_index():
    """The operator names a replica's pod; JobSet adds a random suffix, so a TrainJob's node
    (0: the Master, 1..: the Workers) is found by label."""
    ref = {"namespace": "team-alpha", "name": "tq-7"}
    old = {"pytorchjob": ref}  # (records from before there were two backends)
    assert logs.pod_of(old, "Worker", 1) == ("tq-7-worker-1", None, "pytorch")
    assert logs.pod_of({**old, "backend": "pytorchjob"}, "Master", 0) == (
        "tq-7-master-0", None, "pytorch")  # fmt: skip
    trainjob = {"pytorchjob": ref, "backend": "trainjob"}
    selector = "jobset.sigs.k8s.io/jobset-name=tq-7,batch.kubernetes.io/job-completion-index="
    assert logs.pod_of(trainjob, "Master", 0) == (None, selector + "0", "node")
    assert logs.pod_of(trainjob, "Worker", 0) == (None, selector + "1", "node")
    assert logs.pod_of(trainjob, "Worker", 2) == (None, selector + "3", "node")
