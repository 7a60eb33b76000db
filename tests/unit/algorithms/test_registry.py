"""The algorithm registry's pure parts: image references, the record transitions (create,
publish, rollback, start-up registration), resolving a job spec, the config section, request
validation, and the HTTP layer up to the point where Redis is needed."""

import pydantic
import pytest
import yaml

from tests.unit.conftest import ADMIN, ALPHA, LOCAL_CONFIG
from wrapper.algorithms import registry
from wrapper.algorithms.registry import INHERIT, VersionConflict
from wrapper.api.errors import field_errors
from wrapper.api.schemas import AlgorithmCreate, AlgorithmUpdate, JobRequest
from wrapper.config import AlgorithmConfig, ConfigError, load_config
from wrapper.validation import image_refs as imagerefs

IMAGE = "ghcr.io/trainq/intent-classification"
CMD = ["python", "-m", "trainers.intent_classification"]
PROBLEM = "application/problem+json"


def errors(model, body, config) -> dict[str, str]:
    with pytest.raises(pydantic.ValidationError) as exc:
        model.model_validate(body, context={"config": config})
    return {e["field"]: e["message"] for e in field_errors(exc.value)}


# --- image references ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "image",
    [
        IMAGE,
        "docker.io/library/busybox",
        "localhost:5000/team/x",
        "registry.example.com:443/a/b",
        "trainer",
        "docker.io/my_org/my-image.v2",
    ],
)
def test_good_repositories(image):
    assert imagerefs.repository(image) is None


@pytest.mark.parametrize(
    "image",
    [
        f"{IMAGE}:0.1.0",
        f"{IMAGE}@sha256:abc",
        "ghcr.io/trainq/Intent",
        "ghcr.io/trainq/a b",
        "",
        "ghcr.io//x",
        "ghcr.io/trainq/-x",
        "a" * 256,
    ],
)
def test_bad_repositories(image):
    assert imagerefs.repository(image)


def test_tags_and_references():
    assert imagerefs.tag("0.1.0") is None and imagerefs.tag("v2_rc-1") is None
    assert imagerefs.tag(".1") and imagerefs.tag("-x") and imagerefs.tag("a" * 129)
    assert imagerefs.tag("1:2") and imagerefs.tag("")
    assert imagerefs.reference(IMAGE, "0.1.0") == f"{IMAGE}:0.1.0"
    assert imagerefs.allowed(IMAGE, ["ghcr.io/trainq/"]) is None
    assert "docker.io/" in imagerefs.allowed("quay.io/x", ["docker.io/"])


# --- record transitions ----------------------------------------------------------------------
def first() -> dict:
    return registry.new_record("intent", IMAGE, "0.1.0", CMD, "d", "admin", "t1")


def test_new_record_has_its_first_version_in_the_history():
    rec = first()
    assert rec["version"] == "0.1.0" and rec["image_ref"] == f"{IMAGE}:0.1.0"
    assert rec["created_by"] == rec["updated_by"] == "admin" and rec["created_at"] == "t1"
    assert rec["history"] == [
        {
            "version": "0.1.0",
            "image": IMAGE,
            "image_ref": f"{IMAGE}:0.1.0",
            "command": CMD,
            "published_by": "admin",
            "published_at": "t1",
        }
    ]


def test_publish_appends_and_inherits_the_command():
    rec = registry.publish(first(), IMAGE, "0.2.0", INHERIT, "admin", "t2")
    assert rec["version"] == "0.2.0" and rec["command"] == CMD
    assert rec["image_ref"] == f"{IMAGE}:0.2.0" and rec["updated_at"] == "t2"
    assert rec["created_at"] == "t1"
    assert [e["version"] for e in rec["history"]] == ["0.1.0", "0.2.0"]
    cleared = registry.publish(rec, IMAGE, "0.3.0", None, "admin", "t3")
    assert cleared["command"] is None and cleared["history"][-1]["command"] is None


def test_publishing_the_current_version_again_changes_nothing():
    assert registry.publish(first(), IMAGE, "0.1.0", INHERIT, "admin", "t2") is None
    assert registry.publish(first(), IMAGE, "0.1.0", CMD, "admin", "t2") is None


@pytest.mark.parametrize(
    ("image", "command"), [("docker.io/other/image", INHERIT), (IMAGE, ["python", "x.py"])]
)
def test_a_published_version_never_changes_its_content(image, command):
    with pytest.raises(VersionConflict, match=r"0\.1\.0"):
        registry.publish(first(), image, "0.1.0", command, "admin", "t2")
    later = registry.publish(first(), IMAGE, "0.2.0", INHERIT, "admin", "t2")
    with pytest.raises(VersionConflict):
        registry.publish(later, image, "0.1.0", command, "admin", "t3")


def test_rollback_to_an_earlier_version_is_recorded():
    later = registry.publish(first(), IMAGE, "0.2.0", INHERIT, "admin", "t2")
    back = registry.publish(later, IMAGE, "0.1.0", INHERIT, "admin", "t3")
    assert back["version"] == "0.1.0" and back["updated_at"] == "t3"
    assert [e["version"] for e in back["history"]] == ["0.1.0", "0.2.0", "0.1.0"]


def test_configured_registration_creates_then_only_publishes_unseen_versions():
    algo = AlgorithmConfig(name="intent", image=IMAGE, version="0.1.0", command=CMD)
    created = registry.configured_change(None, algo, "t1")
    assert created["version"] == "0.1.0" and created["created_by"] == "config"
    assert registry.configured_change(created, algo, "t2") is None  # a restart: nothing
    newer = registry.publish(created, IMAGE, "0.2.0", INHERIT, "admin", "t3")
    assert registry.configured_change(newer, algo, "t4") is None  # never rolls an admin back
    bumped = algo.model_copy(update={"version": "0.3.0"})
    published = registry.configured_change(newer, bumped, "t5")
    assert published["version"] == "0.3.0" and published["updated_by"] == "config"
    assert registry.summary(published).keys() == published.keys() - {"history"}


def test_resolved_spec_keeps_image_and_algorithm():
    current = {
        "name": "intent",
        "version": "0.1.0",
        "image": IMAGE,
        "image_ref": f"{IMAGE}:0.1.0",
        "command": CMD,
    }
    spec = {"name": "j", "image": None, "command": None, "args": None, "env": {}}
    out = registry.resolved_spec(spec, current)
    assert list(out) == ["name", "image", "algorithm", "command", "args", "env"]
    assert out["image"] == f"{IMAGE}:0.1.0" and out["command"] == CMD
    assert out["algorithm"] == {"name": "intent", "version": "0.1.0"}
    own = registry.resolved_spec({**spec, "command": ["sh"]}, current)
    assert own["command"] == ["sh"]  # the job's own command wins


# --- configuration ---------------------------------------------------------------------------
def test_local_config_registers_intent_classification(config):
    (algo,) = config.algorithms
    assert algo.name == "intent-classification" and algo.image == IMAGE
    assert algo.version == "0.1.0" and algo.command == CMD


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [
        ([{"name": "a", "image": IMAGE, "version": "1"}] * 2, "names must be unique"),
        ([{"name": "a", "image": "quay.io/x/y", "version": "1"}], "allowed_prefixes"),
        ([{"name": "a", "image": f"{IMAGE}:1", "version": "1"}], "without tag"),
        ([{"name": "a", "image": IMAGE, "version": ".1"}], "image tag"),
        ([{"name": "A", "image": IMAGE, "version": "1"}], "DNS-1123"),
    ],
)
def test_bad_algorithm_config(tmp_path, algorithms, message):
    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    raw["algorithms"] = algorithms
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=message):
        load_config(path)


# --- request bodies --------------------------------------------------------------------------
def test_job_request_takes_image_or_algorithm(config):
    ok = JobRequest.model_validate(
        {"name": "j", "algorithm": "intent-classification"}, context={"config": config}
    )
    assert ok.image is None and ok.algorithm == "intent-classification"
    both = {"name": "j", "algorithm": "x", "image": "docker.io/a/b:1"}
    assert "algorithm" in errors(JobRequest, both, config)
    assert "algorithm" in errors(JobRequest, {"name": "j"}, config)
    assert errors(JobRequest, {"name": "j", "algorithm": "Bad_Name"}, config).keys() == {
        "algorithm"
    }
    # An invalid image is reported once, on the image.
    assert errors(JobRequest, {"name": "j", "image": "quay.io/x"}, config).keys() == {"image"}
    assert errors(JobRequest, {"name": "j", "image": None}, config).keys() == {"algorithm"}


def test_algorithm_bodies(config):
    good = {"name": "intent", "image": IMAGE, "version": "0.1.0"}
    req = AlgorithmCreate.model_validate(good, context={"config": config})
    assert req.command is None and req.description == ""
    errs = errors(AlgorithmCreate, {**good, "image": "quay.io/x/y", "extra": 1}, config)
    assert errs == {
        "image": "image must start with one of: docker.io/, ghcr.io/trainq/",
        "extra": "unknown field",
    }
    assert "image" in errors(AlgorithmCreate, {**good, "image": f"{IMAGE}:1"}, config)
    assert "version" in errors(AlgorithmUpdate, {"image": IMAGE, "version": "a b"}, config)
    assert errors(AlgorithmUpdate, {"image": IMAGE}, config) == {"version": "field required"}
    update = AlgorithmUpdate.model_validate({"image": IMAGE, "version": "2"})
    assert "command" not in update.model_fields_set  # so the current command carries over


# --- HTTP without Redis ----------------------------------------------------------------------
def problem(response, status) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json(force=True)


BODY = {"name": "intent", "image": IMAGE, "version": "0.1.0"}


def test_writes_need_the_admin_token(client):
    body = problem(client.post("/v1/algorithms", json=BODY, headers=ALPHA), 403)
    assert "admin" in body["detail"]
    problem(client.put("/v1/algorithms/intent", json=BODY, headers=ALPHA), 403)
    problem(client.post("/v1/algorithms", json=BODY), 401)
    problem(client.get("/v1/algorithms"), 401)
    problem(client.get("/v1/algorithms/intent", headers={"Authorization": "Bearer no"}), 401)


def test_validation_comes_before_redis(client):
    body = problem(
        client.post("/v1/algorithms", json={**BODY, "image": "quay.io/a/b"}, headers=ADMIN), 422
    )
    assert body["errors"][0]["field"] == "image"
    problem(
        client.post("/v1/algorithms", data="{", headers=ADMIN, content_type="application/json"), 400
    )
    # Past auth and validation, the registry needs Redis: 503.
    problem(client.post("/v1/algorithms", json=BODY, headers=ADMIN), 503)
    problem(client.get("/v1/algorithms", headers=ALPHA), 503)
    problem(client.get("/v1/algorithms/intent", headers=ALPHA), 503)


def test_job_with_an_algorithm_needs_redis_to_resolve(client):
    body = {"name": "j", "algorithm": "intent-classification"}
    problem(client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA), 503)


def test_openapi_documents_the_registry(client):
    doc = client.get("/openapi.json").get_json()
    paths = doc["paths"]
    assert {"post", "get"} <= set(paths["/v1/algorithms"])
    assert {"put", "get"} <= set(paths["/v1/algorithms/{name}"])
    assert paths["/v1/algorithms"]["post"]["tags"] == ["algorithms"]
    schemas = doc["components"]["schemas"]
    assert {"Algorithm", "AlgorithmCreate", "AlgorithmUpdate", "AlgorithmList"} <= set(schemas)
    assert "algorithm" in schemas["JobRequest"]["properties"]
