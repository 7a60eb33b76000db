"""What dispatch builds (a PyTorchJob or TrainJob), checked again against the team's config
before it reaches the apiserver (pure): the job record comes from Redis, which other processes
(and anyone who can write to Redis) share, so the API's validation is not trusted to still
hold. A workload that does not pass is never created; its job fails with the problems found."""

from queue_workers.kube import pytorchjob
from queue_workers.kube.backends import PYTORCHJOB, Backend
from wrapper.config import Team, TrainqConfig
from wrapper.validation import image_refs as imagerefs
from wrapper.validation import k8s_names as kubenames

# Set by the builder itself (they always win over a request's): not the request's to pass.
_OWN_LABELS = frozenset(pytorchjob.trainq_labels("x", "x", 0))


def _keys(kind: str, keys: dict, prefixes: list[str], unprefixed_ok: bool) -> list[str]:
    problems = []
    for key in keys:
        if kind == "label" and key in _OWN_LABELS:
            continue
        bad = kubenames.qualified_name(key)
        if not bad and not (unprefixed_ok and not kubenames.key_prefix(key)):
            if not key.startswith(tuple(prefixes)):
                bad = f"not allowed (pod_metadata.{kind}_prefixes)"
        if bad:
            problems.append(f"{kind} {key!r}: {bad}")
    return problems


def problems(body: dict, team: Team, config: TrainqConfig,
             backend: Backend = PYTORCHJOB) -> list[str]:  # fmt: skip
    """Why `body` (a built PyTorchJob or TrainJob) must not be created for `team`; empty when
    it may."""
    out = []
    namespace = body["metadata"].get("namespace")
    if namespace != team.namespace:
        out.append(f"namespace {namespace!r} is not team {team.name}'s ({team.namespace})")
    meta, lim = config.pod_metadata, config.limits
    for rtype, template_meta, images, replicas in backend.templates(body):
        labels = template_meta.get("labels") or {}
        annotations = template_meta.get("annotations") or {}
        found = _keys("label", labels, meta.label_prefixes, unprefixed_ok=True)
        found += _keys("annotation", annotations, meta.annotation_prefixes, unprefixed_ok=False)
        for image in images:
            bad = imagerefs.allowed(image, config.images.allowed_prefixes)
            if bad:
                found.append(f"{bad} (images.allowed_prefixes), got {image!r}")
        if rtype == "Worker" and replicas > lim.max_workers:
            found.append(f"{replicas} workers exceed limits.max_workers")
        out += [f"{rtype}: {p}" for p in found if f"{rtype}: {p}" not in out]
    return out
