"""Kueue out of cluster against the local control plane (benchmarks/kueue.py), as the
side-by-side benchmark runs it: it admits (unsuspends) a suspended PyTorchJob carrying its
queue-name label and leaves an unlabelled one alone. Skipped unless Kueue is built
(`k8s/local/build.sh kueue`; `make test` never builds it)."""

import time
import uuid

import pytest

from benchmarks import kueue as kq
from benchmarks.sidebyside import RUN_LABEL, KueueSide
from benchmarks.stack import delete_pytorchjobs

pytestmark = [
    pytest.mark.integration,
    pytest.mark.cluster,
    pytest.mark.skipif(
        not kq.built(),
        reason=f"Kueue {kq.version()} is not built (k8s/local/build.sh kueue; about 5 min)",
    ),
]

TEAM = {"name": "alpha", "weight": 1,
        "quota": {"max_running_jobs": 4, "cpu": "8", "memory": "16Gi", "gpu": 8},
        "preemption": {"reclaim": "Any", "within_team": "LowerPriority"}}  # fmt: skip


def _suspended(api, ns: str, name: str) -> bool:
    obj = api.get_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs", name)
    return bool(obj["spec"].get("runPolicy", {}).get("suspend"))


@pytest.fixture
def kueue(tmp_path, kubeconfig):
    controller = kq.Kueue(tmp_path / "kueue")
    controller.start()
    yield controller
    controller.stop()


def test_kueue_admits_a_labelled_suspended_pytorchjob(kueue, kubeconfig):
    ns = "kueue-bench-test"
    kq.ensure_namespace(ns)
    api = kq.custom_api()
    prefix = f"kqt-{uuid.uuid4().hex[:6]}"
    objs = kq.objects([TEAM], prefix, {"alpha": ns})
    kq.create(api, objs)
    # A pool no node has: pods stay Pending, nothing runs on the shared nodes.
    side = KueueSide(kueue, f"{prefix}-nowhere", {"alpha": ns}, grace=1)
    try:
        name = side.submit("alpha", f"{prefix}-in-quota", 4, "1s")
        unlabelled = side.job("alpha", f"{prefix}-unlabelled", 4, "1s")
        del unlabelled["metadata"]["labels"][kq.QUEUE_LABEL]
        api.create_namespaced_custom_object("kubeflow.org", "v1", ns, "pytorchjobs", unlabelled)
        side.watch.started([name], 60, "Kueue to unsuspend the labelled PyTorchJob")
        assert not _suspended(api, ns, name)
        time.sleep(2)  # Kueue has had its chance to (wrongly) touch the unlabelled one
        assert _suspended(api, ns, unlabelled["metadata"]["name"])
        workloads = api.list_namespaced_custom_object(kq.GROUP, kq.VERSION, ns, "workloads")
        admitted = [w for w in workloads["items"]
                    if any(c["type"] == "Admitted" and c["status"] == "True"
                           for c in w.get("status", {}).get("conditions", []))]  # fmt: skip
        assert [w["spec"]["queueName"] for w in admitted] == [kq.local_queue("alpha")]
    finally:
        side.watch.close()
        delete_pytorchjobs(api, f"{RUN_LABEL}={side.run}")  # both jobs carry it
        kq.delete(api, objs)
