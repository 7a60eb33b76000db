"""Each job's own NetworkPolicy, against the real apiserver and garbage collector: the watcher
gives a dispatched job's PyTorchJob a policy that lets exactly that job's pods reach each other,
owned by the PyTorchJob (or TrainJob: on both backends), so it is gone with it."""

import pytest
from kubernetes import client

from tests.support.stack import job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_a_job_gets_its_peers_policy_and_loses_it_with_its_pytorchjob(any_private_stack, kube_api):
    stack = any_private_stack
    api = stack.start_all()
    body = job_body(unique("peers"), workers=1, annotations={"trainq.dev/sim-run-for": "600s"})
    job_id = api.submit_ok("alpha", body)["id"]
    api.wait_status("alpha", job_id, {"created", "running"}, 60)
    (obj,) = stack.pytorchjobs("team-alpha", job_id)
    name = obj["metadata"]["name"] + "-peers"
    net = client.NetworkingV1Api(kube_api)

    def policy():
        found = net.list_namespaced_network_policy(
            "team-alpha", field_selector=f"metadata.name={name}").items  # fmt: skip
        return found[0] if found else None

    made = wait_until("the peers' NetworkPolicy", policy, 30)
    (owner,) = made.metadata.owner_references
    assert (owner.api_version, owner.kind, owner.name, owner.uid) == (
        stack.backend.api_version, stack.backend.kind, obj["metadata"]["name"],
        obj["metadata"]["uid"])  # fmt: skip
    pods = {"app.kubernetes.io/managed-by": "trainq", "trainq.dev/instance": stack.instance,
            "trainq.dev/job-id": str(job_id)}  # fmt: skip
    assert made.spec.pod_selector.match_labels == pods
    assert made.spec.policy_types == ["Egress"]
    ((peer,),) = [rule.to for rule in made.spec.egress]
    assert peer.pod_selector.match_labels == pods and peer.namespace_selector is None
    # Every pod of the job carries those labels: the policy selects exactly its replicas.
    core = client.CoreV1Api(kube_api)
    selector = ",".join(f"{k}={v}" for k, v in pods.items())
    wait_until("both replicas", lambda: len(core.list_namespaced_pod(
        "team-alpha", label_selector=selector).items) == 2, 60)  # fmt: skip
    # The garbage collector finds its owner (a wrong kind would have it deleted by now).
    assert policy() is not None
    api.cancel("alpha", job_id)
    api.wait_status("alpha", job_id, {"cancelled"}, 60)
    wait_until("the policy garbage-collected", lambda: policy() is None, 60)
