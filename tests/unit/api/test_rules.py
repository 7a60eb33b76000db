"""The request rules the served document shows (wrapper.api.rules) against the checkers the
server runs: over generated text, a value fits the document's schema exactly when the server
accepts it. Schemas are read with jsonschema-rs, as schemathesis reads them (ECMA-262
patterns: `$` is the end of the text)."""

import re
import string

import jsonschema_rs
import pydantic
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.support import LOCAL_CONFIG, REPO, free_port
from tests.unit.conftest import ALPHA
from wrapper.api import miniautoml, rules
from wrapper.api.app import create_app
from wrapper.api.schemas import JobRequest
from wrapper.config import PodMetadata, Settings
from wrapper.validation import image_refs
from wrapper.validation import k8s_names as kubenames

PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)
NAMEY = string.ascii_letters + string.digits + "-_./"
ODD = ["\n", " ", "\u0661", "é", ":", "@"]


def names(alphabet: str = NAMEY, max_size: int = 70):
    chars = st.sampled_from(alphabet) | st.sampled_from(ODD)
    return st.text(chars, max_size=max_size)


@pytest.fixture(scope="module")
def schemas(config):
    """The served document's (module-scoped: hypothesis runs many examples per test)."""
    kubeconfig = REPO / "tests/unit/data/unreachable-kubeconfig.yaml"
    settings = Settings(str(LOCAL_CONFIG), f"redis://127.0.0.1:{free_port()}/0", str(kubeconfig))
    app = create_app(config, settings)
    return app.test_client().get("/openapi.json").get_json()["components"]["schemas"]


def fits(schema: dict, value) -> bool:
    return jsonschema_rs.is_valid(schema, value)


def refused_fields(body: dict, config) -> set[str]:
    try:
        JobRequest.model_validate(body, context={"config": config})
    except pydantic.ValidationError as exc:
        return {".".join(map(str, e["loc"][:2])) for e in exc.errors()}
    return set()


BASE = {"name": "a", "image": "docker.io/x"}


@PROPERTY
@given(key=names())
@example(key="trainq.dev/sim-run-for")
@example(key="trainq.dev/sim-")
@example(key="trainq.dev/sim-x\n")
@example(key="a" * 63)
def test_label_and_annotation_keys(schemas, config, key):
    props = schemas["JobRequest"]["properties"]
    refused = refused_fields({**BASE, "labels": {key: "v"}, "annotations": {key: "v"}}, config)
    assert fits(props["labels"]["propertyNames"], key) == (f"labels.{key}" not in refused)
    assert fits(props["annotations"]["propertyNames"], key) == (f"annotations.{key}" not in refused)


@PROPERTY
@given(key=names(), prefix=st.sampled_from(["example.com/", "ex.org/note-", "a.b/x"]))
def test_configured_key_prefixes(config, key, prefix):
    meta = PodMetadata(label_prefixes=[prefix], annotation_prefixes=[prefix])
    cfg = config.model_copy(update={"pod_metadata": meta})
    key = prefix + key
    refused = refused_fields({**BASE, "labels": {key: "v"}, "annotations": {key: "v"}}, cfg)
    labels = rules.key_names(meta.label_prefixes, unprefixed=True)
    assert fits(labels, key) == (f"labels.{key}" not in refused)
    annotations = rules.key_names(meta.annotation_prefixes, unprefixed=False)
    assert fits(annotations, key) == (f"annotations.{key}" not in refused)


RESERVED = ["MASTER_ADDR", "PET_X", "NVIDIA_VISIBLE_DEVICES", "MODEL_NAME", "TRAINQ_"]


@PROPERTY
@given(name=names(string.ascii_letters + string.digits + "-_.", max_size=20)
       | st.sampled_from(RESERVED))  # fmt: skip
def test_env_and_parameter_names(schemas, config, name):
    env = schemas["JobRequest"]["properties"]["env"]["propertyNames"]
    assert fits(env, name) == (f"env.{name}" not in refused_fields({**BASE, "env": {name: "v"}},
                                                                     config))  # fmt: skip
    params = schemas["TrainRequest"]["properties"]["metadata"]["properties"]["parameters"]
    try:
        miniautoml.check_parameters({name: "v"}, max_workers=32)
        accepted = True
    except miniautoml.InvalidArgument:
        accepted = False
    assert fits(params["propertyNames"], name) == accepted


@PROPERTY
@given(value=names(string.ascii_lowercase + string.digits + "-", max_size=45))
def test_job_and_algorithm_names(schemas, config, value):
    props = schemas["JobRequest"]["properties"]
    assert fits(props["name"], value) == ("name" not in refused_fields({**BASE, "name": value},
                                                                       config))  # fmt: skip
    body = {"name": "a", "algorithm": value}
    assert fits(props["algorithm"], value) == ("algorithm" not in refused_fields(body, config))


@PROPERTY
@given(text=st.from_regex(kubenames.QUANTITY, fullmatch=True) | names("0123456789.+-eEmkKMGi"))
@example(text="0.0")
@example(text="+.5m")
@example(text="0e9")
@example(text="1E1000000000000000000")  # Decimal refuses it
def test_quantities_above_zero(schemas, text):
    schema = schemas["ResourcesRequest"]["properties"]["cpu"]
    try:
        positive = kubenames.quantity(text) > 0
    except ValueError:
        positive = False
    assert fits(schema, text) == positive


@pytest.mark.parametrize("n", [1, 9, 10, 33, 100, 999, 1000])
def test_up_to_is_exactly_the_range(n):
    for zero in (True, False):
        pattern = re.compile(rules.up_to(n, zero))
        for k in range(n + 120):
            for text in (str(k), f"00{k}"):
                assert bool(pattern.fullmatch(text)) == ((0 if zero else 1) <= k <= n), text


@PROPERTY
@given(value=st.integers(-(2**32), 2**32).map(str) | names("0123456789-", max_size=12))
@example(value="2147483647")
@example(value="-2147483648")
@example(value="0002147483647")
def test_job_id_strings(schemas, value):
    job_id = schemas["TrainStatusRequest"]["properties"]["job_id"]
    try:
        miniautoml.job_id_value(value)
        accepted = value != ""
    except miniautoml.InvalidArgument:
        accepted = False
    assert fits(job_id, value) == accepted


@PROPERTY
@given(image=names(NAMEY + ":", max_size=40).map(lambda s: "docker.io/" + s) | names(NAMEY + ":"))
@example(image="docker.io/library/busybox")
@example(image="docker.io:5000/x")
def test_algorithm_images(schemas, config, image):
    schema = schemas["AlgorithmCreate"]["properties"]["image"]
    accepted = image_refs.repository(image) is None and not image_refs.allowed(
        image, config.images.allowed_prefixes
    )
    assert fits(schema, image) == accepted


def test_the_document_reflects_the_deployment(schemas, config):
    props = schemas["JobRequest"]["properties"]
    assert props["workers"]["anyOf"][0]["maximum"] == config.limits.max_workers
    assert fits(props["image"], "docker.io/library/busybox:1.36")
    assert not fits(props["image"], "quay.io/x")
    assert not fits(props["image"], "docker.io/x\n")


def test_unknown_query_parameters_are_refused(client):
    r = client.post("/v1/teams/alpha/jobs?dryrun=true", json=BASE, headers=ALPHA)
    assert r.status_code == 422
    assert r.get_json()["errors"] == [{"field": "dryrun", "message": "unknown query parameter"}]
    r = client.get("/v1/teams/alpha/jobs?limit=%D9%A1", headers=ALPHA)  # an Arabic-Indic 1
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "limit"
