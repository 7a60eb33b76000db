"""The request rules the OpenAPI document shows beyond what pydantic derives from the models:
the checkers' grammars (names, env names, label and annotation keys, quantities, image
references) as anchored patterns, and what this deployment's config decides (allowed images
and key prefixes, upper bounds). `apply` writes them into the document's component schemas, so
a client — and schemathesis (tests/integration/api/test_schemathesis.py) — sees what the
server accepts; tests/unit/api/test_rules.py holds the patterns to the checkers.

Patterns are ECMA-262 as JSON Schema reads them: `$` is the end of the text (unlike Python's
re, where it also matches before a final newline). What no schema can say stays a 422 naming
the field: a quantity above the deployment's limit, an unregistered algorithm, a job that can
never fit its team's quota or the cluster."""

import copy

from wrapper.api.miniautoml import FROM_METADATA, PARALLEL_INSTANCES
from wrapper.api.schemas.job_request import (
    GPU_RUNTIME_ENV_PREFIX,
    NAME_MAX,
    RESERVED_ENV,
    RESERVED_ENV_PREFIXES,
)
from wrapper.config import TrainqConfig
from wrapper.validation import image_refs
from wrapper.validation import k8s_names as kubenames

INT32_MAX = 2**31 - 1
_NAME_CHARS, _ALNUM = "[-A-Za-z0-9_.]", "[A-Za-z0-9]"
# A quantity above zero (the CRD grammar, kubenames.QUANTITY, without '-' and with a non-zero
# digit before any suffix); the deployment's upper limit is the server's alone.
POSITIVE_QUANTITY = (
    r"\+?(0*[1-9][0-9]*(\.[0-9]*)?|[0-9]*\.[0-9]*[1-9][0-9]*)" + kubenames.QUANTITY_SUFFIX
)


def anchored(core: str) -> str:
    return f"^({core})$"


def literal(text: str) -> str:
    """`text` as a pattern (only ECMA's syntax characters escaped, as both engines accept)."""
    return "".join("\\" + c if c in "\\^$.|?*+()[]{}" else c for c in text)


def up_to(n: int, zero: bool) -> str:
    """Decimal numbers from 0 (or 1) to n, leading zeros allowed, as a pattern."""
    digits, parts = str(n), []
    if len(digits) > 1:
        parts.append(f"[1-9][0-9]{{0,{len(digits) - 2}}}")
    for i, d in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(d) > low:
            parts.append(f"{digits[:i]}[{low}-{int(d) - 1}][0-9]{{{len(digits) - i - 1}}}")
    parts.append(digits)
    if zero:
        parts.append("0")
    return f"0*({'|'.join(parts)})"


def _key_under(prefix: str) -> dict:
    """Keys starting with an allowed prefix ('domain/' plus the start of a name)."""
    start = prefix.partition("/")[2]
    if not start:
        rest = kubenames.KEY_NAME
    elif start[-1].isalnum():
        rest = f"({_NAME_CHARS}*{_ALNUM})?"
    else:
        rest = f"{_NAME_CHARS}*{_ALNUM}"
    return {"pattern": f"^{literal(prefix)}{rest}$", "maxLength": len(prefix) - len(start) + 63}


def key_names(prefixes: list[str], unprefixed: bool) -> dict:
    """The schema of a label or annotation key the deployment allows."""
    choices = [_key_under(p) for p in prefixes]
    if unprefixed:
        choices.insert(0, {"pattern": anchored(kubenames.KEY_NAME), "maxLength": 63})
    if not choices:
        return {"not": {}}  # no key at all
    return choices[0] if len(choices) == 1 else {"anyOf": choices}


def env_names(also_reserved: tuple[str, ...] = ()) -> dict:
    prefixes = "|".join((*RESERVED_ENV_PREFIXES, GPU_RUNTIME_ENV_PREFIX))
    return {
        "pattern": anchored(kubenames.ENV_NAME),
        "not": {"anyOf": [{"enum": sorted(RESERVED_ENV | set(also_reserved))},
                          {"pattern": f"^({prefixes})"}]},
    }  # fmt: skip


def _set(schema: dict, rules: dict) -> None:
    """Rules for a property that may be null (pydantic's anyOf [..., null]) or not."""
    for choice in schema.get("anyOf", [schema]):
        if choice.get("type") != "null":
            choice.update(rules)


def _starts_with(prefixes: list[str]) -> dict:
    return {"pattern": f"^({'|'.join(literal(p) for p in prefixes)})"}


def _job_request(schemas: dict, config: TrainqConfig) -> None:
    props, limits = schemas["JobRequest"]["properties"], config.limits
    meta = config.pod_metadata
    _set(props["name"], {"pattern": anchored(kubenames.DNS1035_LABEL), "maxLength": NAME_MAX})
    _set(props["image"], {"pattern": f"^({'|'.join(map(literal, config.images.allowed_prefixes))})"
                                     "[!-~]*$"})  # fmt: skip
    _set(props["algorithm"], {"pattern": anchored(kubenames.DNS1123_LABEL), "maxLength": 63})
    # Exactly one of image and algorithm, not null.
    schemas["JobRequest"]["oneOf"] = [
        {"required": [field], "properties": {field: {"type": "string"}}}
        for field in ("image", "algorithm")
    ]
    props["env"]["propertyNames"] = env_names()
    props["labels"]["propertyNames"] = key_names(meta.label_prefixes, unprefixed=True)
    props["labels"]["additionalProperties"].update(
        {"pattern": anchored(f"({kubenames.KEY_NAME})?"), "maxLength": 63}
    )
    props["annotations"]["propertyNames"] = key_names(meta.annotation_prefixes, unprefixed=False)
    for field, limit in (("workers", limits.max_workers),
                         ("max_runtime_seconds", limits.max_runtime_seconds),
                         ("backoff_limit", limits.max_backoff_limit)):  # fmt: skip
        _set(props[field], {"maximum": limit})
    resources = schemas["ResourcesRequest"]["properties"]
    _set(resources["gpu"], {"maximum": limits.max_gpu})
    for field in ("cpu", "memory"):
        _set(resources[field], {"pattern": anchored(POSITIVE_QUANTITY)})


def repositories(prefixes: list[str]) -> dict:
    """Image repositories under the allowed prefixes. A prefix that is a registry or a path
    ending in '/' (the usual kind) is followed by path components: one pattern, which
    generators can draw from directly; other prefixes need both patterns at once."""
    component = image_refs.PATH_COMPONENT
    components = f"{component}(/{component})*"
    grammar = f"^(({image_refs.DOMAIN})/)?{components}$"
    whole = [p for p in prefixes if p.endswith("/") and not image_refs.repository(p[:-1])]
    if len(whole) == len(prefixes):
        return {"pattern": f"^({'|'.join(map(literal, prefixes))}){components}$"}
    return {"allOf": [{"pattern": grammar}, _starts_with(prefixes)]}


def _algorithm_bodies(schemas: dict, config: TrainqConfig) -> None:
    for name in ("AlgorithmCreate", "AlgorithmUpdate"):
        props = schemas[name]["properties"]
        props["image"].update({**repositories(config.images.allowed_prefixes),
                               "minLength": 1, "maxLength": image_refs.REPOSITORY_MAX})  # fmt: skip
        props["version"].update({"pattern": anchored(image_refs.TAG)})
        if "name" in props:
            props["name"].update({"pattern": anchored(kubenames.DNS1123_LABEL), "maxLength": 63})


def _train(schemas: dict, config: TrainqConfig) -> None:
    """Train's metadata, inline: the status answer echoes the same model without these rules."""
    metadata = copy.deepcopy(schemas["TrainingJobMetadata"])
    props, dataset = metadata["properties"], schemas["Dataset"]["properties"]
    metadata["additionalProperties"] = False
    props["algorithm"].update({"pattern": anchored(kubenames.DNS1123_LABEL), "maxLength": 63})
    props["dataset_id"].update({k: dataset["id"][k] for k in ("pattern", "maxLength")})
    props["train_data_version_hash"].update(
        {k: dataset["version_hash"][k] for k in ("pattern", "maxLength")}
    )
    props["output_model_name"].update({"minLength": 1, "maxLength": 32_768})
    # Protobuf's JSON mapping: null is the default value ('' and {}) of an optional field.
    props["name"]["type"] = ["string", "null"]
    props["parameters"]["type"] = ["object", "null"]
    instances = {"type": "string", "maxLength": 9,
                 "pattern": anchored(up_to(config.limits.max_workers + 1, zero=False))}  # fmt: skip
    props["parameters"].update({
        "propertyNames": env_names(tuple(FROM_METADATA)),
        "maxProperties": 256 - len(FROM_METADATA),
        "properties": {PARALLEL_INSTANCES: instances},
    })  # fmt: skip
    props["parameters"]["additionalProperties"]["maxLength"] = 32_768
    train = schemas["TrainRequest"]
    train["properties"]["metadata"] = metadata
    train["additionalProperties"] = False
    status = schemas["TrainStatusRequest"]
    status["additionalProperties"] = False
    status["properties"]["job_id"]["anyOf"] = [
        {"type": "integer", "minimum": -INT32_MAX, "maximum": INT32_MAX},
        {"type": "string", "pattern": anchored(f"-?{up_to(INT32_MAX, zero=True)}")},
    ]


def apply(schemas: dict, config: TrainqConfig) -> None:
    """Write the rules into the document's component schemas (in place)."""
    _job_request(schemas, config)
    _algorithm_bodies(schemas, config)
    _train(schemas, config)
