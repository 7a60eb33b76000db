import pydantic
import pytest

from wrapper.api.errors import field_errors
from wrapper.api.schemas import JobRequest

BASE = {"name": "resnet", "image": "docker.io/library/busybox:1.36"}


def errors_of(body, config) -> dict[str, str]:
    with pytest.raises(pydantic.ValidationError) as exc:
        JobRequest.model_validate(body, context={"config": config})
    return {e["field"]: e["message"] for e in field_errors(exc.value)}


def test_minimal_request_gets_the_configured_defaults(config):
    spec = JobRequest.model_validate(BASE, context={"config": config}).to_spec(config)
    assert spec == {
        "name": "resnet",
        "image": "docker.io/library/busybox:1.36",
        "command": None,
        "args": None,
        "env": {},
        "workers": 0,
        "resources": {"cpu": "1", "memory": "2Gi", "gpu": 0},
        "priority": 0,
        "max_runtime_seconds": 86400,
        "backoff_limit": 3,
        "restart_policy": "OnFailure",
        "dataset": None,
        "labels": {},
        "annotations": {},
    }


def test_full_request_is_kept_as_given(config):
    body = {
        **BASE,
        "command": ["python", "train.py"],
        "args": ["--lr", "0.1"],
        "env": {"LR": "0.1", "my.var": "x"},
        "workers": 3,
        "resources": {"cpu": "500m", "memory": "1.5Gi", "gpu": 2},
        "priority": 5,
        "max_runtime_seconds": 600,
        "backoff_limit": 0,
        "restart_policy": "ExitCode",
        "dataset": {"id": "imdb-reviews", "version_hash": "hashDg=="},
        "labels": {"project": "nlp", "owner": "ml-team"},
        "annotations": {"trainq.dev/sim-run-for": "3s", "trainq.dev/sim-note": "any text"},
    }
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    assert spec == {**body, "command": ["python", "train.py"]}


def test_missing_and_unknown_fields_are_named(config):
    errs = errors_of({"image": "docker.io/x", "gpus": 1, "resources": {"cpus": "1"}}, config)
    assert errs == {
        "name": "field required",
        "gpus": "unknown field",
        "resources.cpus": "unknown field",
    }


@pytest.mark.parametrize(
    "name", ["Resnet", "1resnet", "resnet-", "res_net", "a" * 41, "", "résnet"]
)
def test_bad_names(config, name):
    assert "name" in errors_of({**BASE, "name": name}, config)


def test_name_of_40_chars_is_fine(config):
    JobRequest.model_validate({**BASE, "name": "a" * 40}, context={"config": config})


@pytest.mark.parametrize(
    "var",
    ["MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "PET_NNODES", "TRAINQ_TEAM", "JOB_ID",
     "TRAINING_DATASET_ID", "PYTHONUNBUFFERED"],
)  # fmt: skip
def test_reserved_env_names(config, var):
    errs = errors_of({**BASE, "env": {var: "x", "FINE": "y"}}, config)
    assert list(errs) == [f"env.{var}"]
    assert "cannot be given" in errs[f"env.{var}"]


def test_malformed_env_name(config):
    assert "env.1BAD" in errors_of({**BASE, "env": {"1BAD": "x"}}, config)


@pytest.mark.parametrize(
    ("resources", "field"),
    [
        ({"cpu": "two"}, "resources.cpu"),
        ({"cpu": "0"}, "resources.cpu"),
        ({"cpu": "-1"}, "resources.cpu"),
        ({"memory": "4GB"}, "resources.memory"),
        ({"memory": "1.5.5Gi"}, "resources.memory"),
        ({"cpu": "64"}, "resources.cpu"),  # above limits.max_cpu (32)
        ({"memory": "1Ti"}, "resources.memory"),  # above 256Gi
        ({"gpu": 9}, "resources.gpu"),
        ({"gpu": -1}, "resources.gpu"),
        ({"cpu": 2}, "resources.cpu"),  # a number, not a quantity string
    ],
)
def test_bad_quantities(config, resources, field):
    assert field in errors_of({**BASE, "resources": resources}, config)


@pytest.mark.parametrize(
    "image", ["quay.io/x/y:1", "busybox", "ghcr.io/other/trainer:1", "docker.io/library/x y"]
)
def test_disallowed_images(config, image):
    assert "image" in errors_of({**BASE, "image": image}, config)


def test_trainq_images_are_allowed(config):
    JobRequest.model_validate(
        {**BASE, "image": "ghcr.io/trainq/trainer-resnet:0.1"}, context={"config": config}
    )


def test_types_are_strict(config):
    errs = errors_of({**BASE, "workers": "3", "priority": True, "command": "python"}, config)
    assert set(errs) == {"workers", "priority", "command"}


def test_bounds(config):
    errs = errors_of(
        {**BASE, "workers": 33, "max_runtime_seconds": 604801, "backoff_limit": 21,
         "priority": 1001, "restart_policy": "Always"},
        config,
    )  # fmt: skip
    assert set(errs) == {"workers", "max_runtime_seconds", "backoff_limit", "priority",
                         "restart_policy"}  # fmt: skip


@pytest.mark.parametrize(
    ("labels", "field"),
    [
        ({"trainq.dev/team": "beta"}, "labels.trainq.dev/team"),
        ({"x.trainq.dev/a": "b"}, "labels.x.trainq.dev/a"),
        ({"app.kubernetes.io/managed-by": "me"}, "labels.app.kubernetes.io/managed-by"),
        ({"training.kubeflow.org/job-name": "x"}, "labels.training.kubeflow.org/job-name"),
        ({"bad key": "x"}, "labels.bad key"),
        ({"ok": "not ok!"}, "labels.ok"),
        ({"ok": "v" * 64}, "labels.ok"),
    ],
)
def test_bad_labels(config, labels, field):
    assert field in errors_of({**BASE, "labels": labels}, config)


def test_dataset_needs_both_fields(config):
    errs = errors_of({**BASE, "dataset": {"id": "imdb"}}, config)
    assert errs == {"dataset.version_hash": "field required"}
