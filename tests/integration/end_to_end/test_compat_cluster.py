"""The MiniAutoML-compatible surface end to end: the seed's own scripts' request bodies
replayed against real processes (gunicorn API, an RQ worker, the watcher), a Redis of the
test's own (so job ids start at 1, as in the seed) and the real control plane.

Jobs queue deterministically: the API starts alone, and the worker then runs with
TRAINQ_TEST_HOOK=before-create, pausing each dispatch (status `launch`) until the test lets it
go, so every position can be read as the jobs ahead start."""

import pytest
from kubernetes import client, config

from tests.support import trainer_v2
from tests.support.stack import TOKENS, Stack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
IC = "intent-classification"
IMAGE = "ghcr.io/trainq/intent-classification"
PARAMS = {"LR": "4", "EPOCHS": "15", "BATCH_SIZE": "64", "FC_SIZE": "128"}
# The Train bodies of the seed's scripts (MiniAutoML scripts/, see the seed reference).
TS_002 = {
    "algorithm": IC,
    "dataset_id": "1",
    "name": "test1",
    "train_data_version_hash": "hashBA==",
    "output_model_name": "my-intent-classification-model",
    "parameters": PARAMS,
}
TS_004 = {
    **TS_002,
    "name": "test-parallel",
    "train_data_version_hash": "hashDg==",
    "output_model_name": "my-parallel-intent-classification-model",
    "parameters": {
        "LR": "4",
        "EPOCHS": "10",
        "BATCH_SIZE": "64",
        "PARALLEL_INSTANCES": "3",
        "FC_SIZE": "128",
    },
}
TS_005 = {
    **TS_002,
    "algorithm": "intent-classification-torch",
    "train_data_version_hash": "hashDg==",
}
LAB_003 = {**TS_002, "train_data_version_hash": "hashAg==", "output_model_name": "twitter-model"}
LAB_005 = {
    **LAB_003,
    "train_data_version_hash": "hashBg==",
    "parameters": {"LR": "50", "EPOCHS": "15", "BATCH_SIZE": "64", "FC_SIZE": "1024"},
}
SEED_ORDER = [
    ("output_model_name", '"outputModelName" is required.'),
    ("dataset_id", '"datasetId" is required.'),
    ("train_data_version_hash", '"trainDataVersionHash" is required.'),
    ("algorithm", '"algorithm" is required.'),
]
SEED_VARIABLES = (
    "JOB_ID",
    "ALGORITHM_NAME",
    "TRAINING_DATASET_ID",
    "TRAINING_DATASET_VERSION_HASH",
    "MODEL_NAME",
)


class Compat:
    def __init__(self, api):
        self.api = api

    def headers(self, who: str) -> dict:
        return {"Authorization": f"Bearer {TOKENS[who]}"}

    def train(self, metadata: dict, who: str = "alpha"):
        return self.api.http.post(
            f"{self.api.base}/v1/train",
            json={"metadata": metadata},
            headers=self.headers(who),
            timeout=10,
        )

    def status(self, job_id, who: str = "alpha") -> dict:
        response = self.api.http.post(
            f"{self.api.base}/v1/train/status",
            json={"job_id": str(job_id)},
            headers=self.headers(who),
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def admin(self, method: str, path: str, body: dict):
        return self.api.http.request(
            method, f"{self.api.base}{path}", json=body, headers=self.headers("admin"), timeout=10
        )


def env_of(container: dict) -> dict:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def assert_seed_env(env: dict, job_id: int, metadata: dict) -> None:
    for name, value in metadata["parameters"].items():
        assert env[name] == value, name
    assert {k: env[k] for k in SEED_VARIABLES} == {
        "JOB_ID": str(job_id),
        "ALGORITHM_NAME": metadata["algorithm"],
        "TRAINING_DATASET_ID": metadata["dataset_id"],
        "TRAINING_DATASET_VERSION_HASH": metadata["train_data_version_hash"],
        "MODEL_NAME": metadata["output_model_name"],
    }


@pytest.fixture(params=trainer_v2.BACKENDS)
def compat_stack(request, tmp_path, kubeconfig, kube_api, private_redis):
    """A stack on a Redis of its own, once per backend; dispatch leases long enough that a
    dispatch the test holds at the hook is never taken back while the test follows another
    job."""
    if request.param == "trainjob":
        trainer_v2.require()
    s = Stack(tmp_path / "stack", private_redis.url, kubeconfig, backend=request.param,
              dispatch={"lease_seconds": 300})  # fmt: skip
    yield s
    s.close()


def test_seed_scripts_replayed_against_the_stack(compat_stack, tmp_path):
    s = compat_stack
    compat = Compat(s.start_api())

    # Each missing field gives the seed's sentence, in the seed's order.
    for i, (_, message) in enumerate(SEED_ORDER):
        missing = {f for f, _ in SEED_ORDER[i:]}
        response = compat.train({k: v for k, v in TS_002.items() if k not in missing})
        assert response.status_code == 400 and response.json()["detail"] == message

    # ts-005's algorithm is unknown until an admin registers it (and the 422 takes no id).
    assert compat.train(TS_005).status_code == 422
    torch = {
        "name": "intent-classification-torch",
        "image": f"{IMAGE}-torch",
        "version": "0.1.0",
        "command": ["python", "-m", "trainers.intent_classification"],
    }
    assert compat.admin("POST", "/v1/algorithms", torch).status_code == 201

    runs = [TS_002, TS_004, TS_005, LAB_003, LAB_005]
    ids = [compat.train(m).json()["job_id"] for m in runs]
    assert ids == [1, 2, 3, 4, 5]  # no worker yet: all queued, in order
    for position, (job_id, metadata) in enumerate(zip(ids, runs, strict=True)):
        answer = compat.status(job_id)
        assert answer == {
            "status": "queuing",
            "job_id": job_id,
            "message": f"Queueing, there are {position} training jobs waiting before this.",
            "metadata": metadata,
            "positionInQueue": position,
        }

    # A new version changes new jobs only.
    update = {"image": IMAGE, "version": "0.2.0"}
    assert compat.admin("PUT", f"/v1/algorithms/{IC}", update).status_code == 200
    ids.append(compat.train(TS_002).json()["job_id"])
    assert ids[-1] == 6
    runs.append(TS_002)

    # Now the worker (pausing before each PyTorchJob is created) and the watcher.
    marker = tmp_path / "hook"
    s.start_watcher()
    s.start_worker("w1", {"TRAINQ_TEST_HOOK": f"before-create:{marker}"})
    seen_first = ["queuing"]
    for k in ids:

        def paused(k=k):
            return marker.exists() and marker.read_text() == str(k)

        wait_until(f"the worker to pause on job {k}", paused, 60, interval=0.05)
        assert compat.status(k)["status"] == "launch"
        # The worker claims the next job while job k's create is under way (one create in
        # flight: the next waits for it), so that one is launching too.
        claimed = ids[k : k + 1]
        for j in claimed:
            wait_until(f"job {j} claimed", lambda j=j: compat.status(j)["status"] == "launch", 30)
        for j in ids[k + len(claimed) :]:  # the jobs behind them moved up
            answer = compat.status(j)
            ahead = j - k - 1 - len(claimed)
            assert answer["status"] == "queuing" and answer["positionInQueue"] == ahead
            assert answer["message"] == (
                f"Queueing, there are {ahead} training jobs waiting before this."
            )
        marker.unlink()
        if k == 1:  # follow the first job to its end while the worker waits on job 2
            seen_first.append("launch")

            def finished():
                status = compat.status(1)["status"]
                if seen_first[-1] != status:
                    seen_first.append(status)
                return status in ("succeed", "failure")

            wait_until("job 1 to finish", finished, 90, interval=0.05)
    assert seen_first == ["queuing", "launch", "running", "succeed"]

    def all_finished():
        answers = [compat.status(j) for j in ids]
        return answers if all(a["status"] in ("succeed", "failure") for a in answers) else None

    finals = wait_until("every job to finish", all_finished, 120, interval=0.5)
    assert [a["status"] for a in finals] == ["succeed"] * 6, finals
    assert [a["metadata"] for a in finals] == runs and all(a["message"] for a in finals)

    # The workloads: images as resolved at submission, the seed's env, 1 Master + N-1 Workers
    # (a PyTorchJob's replica specs, or a TrainJob's nodes).
    def workload(job_id: int) -> dict:
        (obj,) = s.pytorchjobs("team-alpha", job_id)
        return obj["spec"]

    on_trainjob = s.backend.name == "trainjob"
    if on_trainjob:
        images = [workload(j)["trainer"]["image"] for j in ids]
    else:
        images = [workload(j)["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]
                  ["image"] for j in ids]  # fmt: skip
    assert images == [
        f"{IMAGE}:0.1.0",
        f"{IMAGE}:0.1.0",
        f"{IMAGE}-torch:0.1.0",
        f"{IMAGE}:0.1.0",
        f"{IMAGE}:0.1.0",
        f"{IMAGE}:0.2.0",
    ]
    if on_trainjob:
        assert workload(2)["trainer"]["numNodes"] == 3 and workload(1)["trainer"]["numNodes"] == 1
        assert_seed_env(env_of(workload(2)["trainer"]), 2, TS_004)
    else:
        parallel = workload(2)["pytorchReplicaSpecs"]
        assert parallel["Master"]["replicas"] == 1 and parallel["Worker"]["replicas"] == 2
        assert set(workload(1)["pytorchReplicaSpecs"]) == {"Master"}
        for rtype in ("Master", "Worker"):
            assert_seed_env(env_of(parallel[rtype]["template"]["spec"]["containers"][0]), 2,
                            TS_004)  # fmt: skip

    core = client.CoreV1Api(config.new_client_from_config(config_file=s.kubeconfig))
    pods = core.list_namespaced_pod(
        "team-alpha", label_selector=f"trainq.dev/instance={s.instance},trainq.dev/job-id=2"
    ).items
    if on_trainjob:  # JobSet names them with a random suffix; the node index is a label
        nodes = sorted(p.metadata.labels["batch.kubernetes.io/job-completion-index"] for p in pods)
        assert nodes == ["0", "1", "2"]
    else:
        names = sorted(p.metadata.name.removeprefix(f"{s.instance}-2-") for p in pods)
        assert names == ["master-0", "worker-0", "worker-1"]
    for pod in pods:
        env = env_of(client.ApiClient().sanitize_for_serialization(pod.spec.containers[0]))
        assert_seed_env(env, 2, TS_004)
        # Set by the operator (or Trainer v2's torch plugin): the 3 instances asked for.
        assert env["PET_NNODES" if on_trainjob else "WORLD_SIZE"] == "3"

    # Finished jobs stay queryable; other teams' and unknown ids do not exist.
    assert compat.status("1")["status"] == "succeed"
    other = compat.api.http.get(
        f"{compat.api.base}/v1/train/1/status", headers=compat.headers("beta"), timeout=10
    )
    assert other.status_code == 404 and other.json()["detail"] == "Job 1 doesn't exist"
