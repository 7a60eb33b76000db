"""Container image references for the algorithm registry: a repository (no tag, no digest)
plus a version, which is the tag, give the reference a job runs (`<repository>:<version>`).
Each checker returns an error message or None, like `wrapper.validation.k8s_names`."""

import re

# The reference grammar of the distribution spec (docker/distribution `reference`), simplified:
# an optional registry host[:port], then lower-case path components. Unanchored, used with
# fullmatch only (`$` accepts a trailing newline), and [0-9], not \d (any Unicode digit); shown
# anchored in the OpenAPI document (wrapper.api.schemas.rules).
DOMAIN = (r"localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|[A-Za-z0-9-]+:[0-9]+|"
          r"[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+:[0-9]+")  # fmt: skip
PATH_COMPONENT = r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*"
TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DOMAIN, _PATH_COMPONENT, _TAG = re.compile(DOMAIN), re.compile(PATH_COMPONENT), re.compile(TAG)
REPOSITORY_MAX = 255


def repository(image: str) -> str | None:
    """An image repository without tag or digest, e.g. 'ghcr.io/trainq/intent-classification'."""
    if "@" in image or ":" in image.rpartition("/")[2]:
        return "must be a repository without tag or digest; the version is the tag"
    if not image or len(image) > REPOSITORY_MAX:
        return f"must be 1 to {REPOSITORY_MAX} characters"
    parts = image.split("/")
    if len(parts) > 1 and _DOMAIN.fullmatch(parts[0]):
        parts = parts[1:]
    if not all(_PATH_COMPONENT.fullmatch(p) for p in parts):
        return (
            "must be an image repository: an optional registry host, then '/'-separated "
            "lower-case components of letters, digits and single '.', '_' or '-' separators"
        )
    return None


def tag(version: str) -> str | None:
    """A version, used as the image tag."""
    if not _TAG.fullmatch(version):
        return (
            "must be a valid image tag: letters, digits, '_', '.' and '-', not starting with "
            "'.' or '-', at most 128 characters"
        )
    return None


def allowed(image: str, prefixes: list[str]) -> str | None:
    if not image.startswith(tuple(prefixes)):
        return f"image must start with one of: {', '.join(prefixes)}"
    return None


def reference(image: str, version: str) -> str:
    """What a job runs: the repository at the version's tag."""
    return f"{image}:{version}"
