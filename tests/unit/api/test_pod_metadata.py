"""What a job may put into its pods besides its program: labels and annotations only under the
deployment's allowed key prefixes (`pod_metadata`), and no variable the NVIDIA container
runtime reads. Each refusal is a 422 naming the field, before anything is written."""

import pydantic
import pytest

from tests.unit.conftest import ALPHA
from wrapper.api.errors import field_errors
from wrapper.api.schemas import JobRequest
from wrapper.config import PodMetadata, TrainqConfig

BASE = {"name": "resnet", "image": "docker.io/library/busybox:1.36"}
# Keys other controllers act on: pod networking, container devices, mesh injection, queueing.
FOREIGN = [
    "k8s.v1.cni.cncf.io/networks",
    "io.kubernetes.cri-o.Devices",
    "sidecar.istio.io/inject",
    "kueue.x-k8s.io/queue-name",
    "container.apparmor.security.beta.kubernetes.io/pytorch",
    "seccomp.security.alpha.kubernetes.io/pod",
    "trainq.dev/team",
    "trainq.dev/job-name",
    "app.kubernetes.io/managed-by",
    "training.kubeflow.org/job-name",
    "cluster-autoscaler.kubernetes.io/safe-to-evict",
]


def errors_of(body: dict, config: TrainqConfig) -> dict[str, str]:
    with pytest.raises(pydantic.ValidationError) as exc:
        JobRequest.model_validate(body, context={"config": config})
    return {e["field"]: e["message"] for e in field_errors(exc.value)}


def with_metadata(config: TrainqConfig, **prefixes) -> TrainqConfig:
    return config.model_copy(update={"pod_metadata": PodMetadata(**prefixes)})


@pytest.mark.parametrize("key", FOREIGN)
def test_foreign_annotations_are_refused(config, key):
    errs = errors_of({**BASE, "annotations": {key: "x"}}, config)
    assert list(errs) == [f"annotations.{key}"]
    assert "trainq.dev/sim-" in errs[f"annotations.{key}"]  # says what is allowed


@pytest.mark.parametrize("key", [k for k in FOREIGN if "/" in k])
def test_foreign_prefixed_labels_are_refused(config, key):
    errs = errors_of({**BASE, "labels": {key: "x"}}, config)
    assert list(errs) == [f"labels.{key}"]
    assert "label_prefixes" in errs[f"labels.{key}"]


@pytest.mark.parametrize(
    "key", ["trainq.dev/sim-run-for\n", "project\n", "trainq.dev/sim-\n", "\ntrainq.dev/sim-x"]
)
def test_keys_with_a_newline_are_refused(config, key):
    errs = errors_of({**BASE, "labels": {key: "x"}, "annotations": {key: "x"}}, config)
    assert set(errs) == {f"labels.{key}", f"annotations.{key}"}


def test_local_config_allows_unprefixed_labels_and_the_simulator(config):
    annotations = {"trainq.dev/sim-run-for": "3s", "trainq.dev/sim-outcome": "fail"}
    body = {**BASE, "labels": {"project": "nlp", "Team_1.x": "a"}, "annotations": annotations}
    req = JobRequest.model_validate(body, context={"config": config})
    assert req.labels == body["labels"] and req.annotations == body["annotations"]
    # Under the prefix means under it: the same domain with another name is not.
    assert "annotations.trainq.dev/simulate" in errors_of(
        {**BASE, "annotations": {"trainq.dev/simulate": "x"}}, config
    )


def test_defaults_allow_unprefixed_labels_and_no_annotations(config):
    strict = with_metadata(config)
    JobRequest.model_validate({**BASE, "labels": {"project": "x"}}, context={"config": strict})
    annotations = {"note": "x", "trainq.dev/sim-run-for": "1s"}
    errs = errors_of({**BASE, "labels": {"example.com/a": "x"}, "annotations": annotations}, strict)
    assert set(errs) == {"labels.example.com/a", "annotations.note",
                         "annotations.trainq.dev/sim-run-for"}  # fmt: skip
    assert "none here" in errs["annotations.note"]


def test_configured_prefixes_are_allowed_and_exact(config):
    annotation_prefixes = ["example.com/", "ops.example.org/note-"]
    custom = with_metadata(config, label_prefixes=["example.com/"],
                           annotation_prefixes=annotation_prefixes)  # fmt: skip
    ok = {**BASE, "labels": {"example.com/owner": "ml"},
          "annotations": {"example.com/x": "1", "ops.example.org/note-a": "2"}}  # fmt: skip
    JobRequest.model_validate(ok, context={"config": custom})
    errs = errors_of({**BASE, "labels": {"evil-example.com/a": "x", "sub.example.com/a": "x"},
                      "annotations": {"ops.example.org/other": "x"}}, custom)  # fmt: skip
    assert set(errs) == {"labels.evil-example.com/a", "labels.sub.example.com/a",
                         "annotations.ops.example.org/other"}  # fmt: skip


@pytest.mark.parametrize(
    "prefix", ["example.com", "", "/x", "Example_.com/", "example.com/-x", "example.com/\n"]
)
def test_a_config_prefix_must_be_a_domain_and_slash(prefix):
    with pytest.raises(pydantic.ValidationError):
        PodMetadata(annotation_prefixes=[prefix])


@pytest.mark.parametrize(
    "var", ["NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_REQUIRE_CUDA",
            "NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_"],
)  # fmt: skip
def test_gpu_runtime_variables_are_reserved(config, var):
    errs = errors_of({**BASE, "env": {var: "all", "CUDA_VISIBLE_DEVICES": "0"}}, config)
    assert list(errs) == [f"env.{var}"]
    assert "NVIDIA container runtime" in errs[f"env.{var}"]


def test_over_http_the_refusal_names_the_field(client):
    body = {**BASE, "env": {"NVIDIA_VISIBLE_DEVICES": "all"},
            "annotations": {"k8s.v1.cni.cncf.io/networks": "other-ns/net"}}  # fmt: skip
    r = client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    fields = {e["field"] for e in r.get_json()["errors"]}
    assert fields == {"env.NVIDIA_VISIBLE_DEVICES", "annotations.k8s.v1.cni.cncf.io/networks"}


def test_train_parameters_cannot_set_gpu_runtime_variables(client):
    body = {"metadata": {"algorithm": "intent-classification", "datasetId": "d",
                         "trainDataVersionHash": "h", "outputModelName": "m",
                         "parameters": {"NVIDIA_VISIBLE_DEVICES": "all"}}}  # fmt: skip
    r = client.post("/v1/train", json=body, headers=ALPHA)
    assert r.status_code == 400
    assert r.get_json()["detail"].startswith('Parameter "NVIDIA_VISIBLE_DEVICES" cannot be given')
