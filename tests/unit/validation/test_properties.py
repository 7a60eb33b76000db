"""Property-based tests of the validators: each accepts exactly what a plain-Python restatement
of its rule accepts (character sets and lengths, not regexes), over text biased to the edges
that regexes get wrong: a trailing newline (`$` matches before one), non-ASCII digits (`\\d`,
str.isdigit()), and separators at the ends."""

import string

import pydantic
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wrapper.api import miniautoml
from wrapper.api.schemas import JobRequest
from wrapper.config import PodMetadata, TrainqConfig
from wrapper.validation import image_refs
from wrapper.validation import k8s_names as kubenames

# Reproducible in CI, nothing written to disk.
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)
LOWER = string.ascii_lowercase + string.digits
ALNUM = string.ascii_letters + string.digits
# \u0661 is ARABIC-INDIC DIGIT ONE, which \d and str.isdigit() accept.
EDGES = ["\n", "\r", " ", "\t", "\x00", "-", ".", "_", "/", ":", "\u0661", "²", "é", "A", "0"]


def texts(alphabet: str, max_size: int = 80):
    """Text mostly from `alphabet`, with the edge characters mixed in and appended."""
    chars = st.sampled_from(alphabet) | st.sampled_from(EDGES)
    body = st.text(chars, max_size=max_size)
    return body | st.tuples(body, st.sampled_from(EDGES)).map("".join)


def _inside(value: str, alphabet: str) -> bool:
    return all(c in alphabet for c in value)


def dns1123_label(v: str) -> bool:
    return 1 <= len(v) <= 63 and _inside(v, LOWER + "-") and v[0] != "-" and v[-1] != "-"


def dns1035_label(v: str) -> bool:
    return dns1123_label(v) and v[0] in string.ascii_lowercase


def qualified_name(key: str) -> bool:
    prefix, slash, name = key.rpartition("/")
    if slash and not (prefix and len(prefix) <= 253 and all(map(dns1123_label, prefix.split(".")))):
        return False
    return label_value(name) and name != ""


def label_value(v: str) -> bool:
    if v == "":
        return True
    return len(v) <= 63 and _inside(v, ALNUM + "-_.") and v[0] in ALNUM and v[-1] in ALNUM


def env_name(v: str) -> bool:
    return v != "" and _inside(v, ALNUM + "-._") and v[0] not in string.digits


def tag(v: str) -> bool:
    return 1 <= len(v) <= 128 and _inside(v, ALNUM + "_.-") and v[0] not in ".-"


@PROPERTY
@given(texts(LOWER + "-"))
@example("a\n")
@example("a" * 63)
def test_dns_labels(v):
    assert (kubenames.dns1123_label(v) is None) == dns1123_label(v)
    assert (kubenames.dns1035_label(v) is None) == dns1035_label(v)


@PROPERTY
@given(texts(ALNUM + "-_./"))
@example("example.com/a\n")
@example("example.com\n/a")
@example("a" * 63)
def test_qualified_names(key):
    assert (kubenames.qualified_name(key) is None) == qualified_name(key)


@PROPERTY
@given(texts(ALNUM + "-_."))
@example("v\n")
def test_label_values(v):
    assert (kubenames.label_value(v) is None) == label_value(v)


@PROPERTY
@given(texts(ALNUM + "-._"))
@example("LR\n")
@example("\u0661X")
def test_env_names(v):
    assert (kubenames.env_name(v) is None) == env_name(v)


@PROPERTY
@given(texts(ALNUM + "_.-", max_size=140))
@example("1.0\n")
def test_image_tags(v):
    assert (image_refs.tag(v) is None) == tag(v)


REPOSITORIES = st.tuples(
    st.sampled_from(["docker.io", "ghcr.io", "localhost:5000", "registry.example.com:443"]),
    st.lists(st.text(LOWER, min_size=1, max_size=8), min_size=1, max_size=3),
).map(lambda t: "/".join([t[0], *t[1]]))


@PROPERTY
@given(REPOSITORIES, st.sampled_from(["\n", "\r", " ", "\t", "\x00", "\u0661", "²", "é"]),
       st.sampled_from(["end", "start", "host"]))  # fmt: skip
def test_image_repositories_refuse_characters_no_part_allows(repo, bad, where):
    """A valid repository with a newline, a space or a non-ASCII character anywhere (here: at
    either end, or after the host, e.g. a Unicode digit in the port) is invalid."""
    assert image_refs.repository(repo) is None
    host, _, rest = repo.partition("/")
    changed = {"end": repo + bad, "start": bad + repo, "host": f"{host}{bad}/{rest}"}[where]
    assert image_refs.repository(changed) is not None


@PROPERTY
@given(st.from_regex(r"(\+|-)?[0-9]{1,6}(\.[0-9]{1,3})?([KMGTPE]i|[numkMGTPE])?", fullmatch=True),
       st.sampled_from(["\n", "\r\n", " ", "\u0661", "Gi\n"]))  # fmt: skip
def test_quantities_refuse_trailing_characters(text, tail):
    kubenames.quantity(text)  # valid: parses
    with pytest.raises(ValueError):
        kubenames.quantity(text + tail)


@PROPERTY
@given(texts(string.digits + "-+", max_size=30) | st.text(max_size=30))
@example("٣")
@example("²")
@example("9" * 5000)
@example("0" * 5000 + "1")
@example("12\n")
def test_job_ids_are_int32_or_invalid_argument(v):
    """Never another exception (a 500): int() takes Unicode digits, and stops at 4,300."""
    try:
        value = miniautoml.job_id_value(v)
    except miniautoml.InvalidArgument:
        return
    assert abs(value) <= 2**31 - 1 and v.strip().lstrip("-").isascii()


@PROPERTY
@given(texts(string.digits, max_size=12) | st.text(max_size=12))
@example("²")
@example("٣")
@example("9" * 5000)
def test_parallel_instances_are_ascii_numbers_or_invalid_argument(v):
    try:
        workers = miniautoml.check_parameters({miniautoml.PARALLEL_INSTANCES: v}, max_workers=32)
    except miniautoml.InvalidArgument as exc:
        assert miniautoml.PARALLEL_INSTANCES in str(exc)
        return
    assert v.strip().isascii() and int(v) == workers + 1


# --- the request schema: what a validator refuses, the body refuses, naming the field ------
ALLOW_SIM = PodMetadata(annotation_prefixes=["trainq.dev/sim-"])


def _errors(body: dict, config: TrainqConfig) -> set[str]:
    try:
        JobRequest.model_validate(body, context={"config": config})
    except pydantic.ValidationError as exc:
        return {".".join(map(str, e["loc"][:2])) for e in exc.errors()}
    return set()


@PROPERTY
@given(st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9_.-]{0,20}[A-Za-z0-9])?", fullmatch=True),
       st.sampled_from(["\n", "\r\n", " ", "\t"]))  # fmt: skip
def test_request_keys_with_whitespace_are_refused(config, name, tail):
    cfg = config.model_copy(update={"pod_metadata": ALLOW_SIM})
    label, annotation, env = name + tail, f"trainq.dev/sim-{name}{tail}", f"X{name}{tail}"
    body = {"name": "a", "image": "docker.io/x", "labels": {name: "v", label: "v"},
            "annotations": {annotation: "v"}, "env": {env: "v"}}  # fmt: skip
    assert _errors(body, cfg) == {f"labels.{label}", f"annotations.{annotation}", f"env.{env}"}


@PROPERTY
@given(st.sampled_from([("dataset", "id"), ("dataset", "version_hash"), (None, "image")]),
       st.sampled_from(["\n", "\r\n", " "]))  # fmt: skip
def test_pattern_fields_refuse_trailing_whitespace(config, where, tail):
    """pydantic's patterns read `$` as the end of text (unlike Python's re); kept so."""
    outer, field = where
    body: dict = {"name": "a", "image": "docker.io/x"}
    if outer:
        body[outer] = {"id": "imdb", "version_hash": "h1"}
        body[outer][field] += tail
        assert _errors(body, config) == {f"{outer}.{field}"}
    else:
        body[field] += tail
        assert _errors(body, config) == {field}
