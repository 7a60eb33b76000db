"""The algorithm registry in Redis: the one module that reads and writes algorithm records.

An algorithm is a stable name for training code. Its current version resolves, at job
submission, to an image reference `<image>:<version>` (and an optional default command); a
job keeps what it resolved to, so publishing a new version only changes later jobs.

A record is one JSON value under `keys.algorithm(name)`, holding the current version and the
whole version history (who published each version, and when). Writes are WATCH/MULTI
compare-and-set transactions, so concurrent writers (several API processes registering the
configured algorithms at start-up, or two admins) never lose an update. The transitions
themselves are the pure functions `new_record`, `publish` and `configured_change`.
"""

import json
import logging
from functools import partial

import redis
from redis.exceptions import WatchError

from wrapper.clock import utcnow
from wrapper.config import AlgorithmConfig
from wrapper.redis import keys
from wrapper.validation import image_refs as imagerefs

log = logging.getLogger(__name__)
CONFIG_PUBLISHER = "config"  # `published_by` of versions registered from the configuration
INHERIT = object()  # `publish(command=INHERIT)`: keep the current version's command


class AlgorithmExists(Exception):
    """POST of a name that is already registered."""


class UnknownAlgorithm(Exception):
    """PUT of a name that is not registered."""


class VersionConflict(Exception):
    """A version, once published, names one image and command for good."""


def _version(image: str, version: str, command: list[str] | None, by: str, at: str) -> dict:
    return {
        "version": version,
        "image": image,
        "image_ref": imagerefs.reference(image, version),
        "command": list(command) if command is not None else None,
        "published_by": by,
        "published_at": at,
    }


def _same_content(entry: dict, image: str, command: list[str] | None) -> bool:
    return entry["image"] == image and entry["command"] == command


def new_record(name: str, image: str, version: str, command: list[str] | None,
               description: str, by: str, at: str) -> dict:  # fmt: skip
    """A new algorithm whose first version is `version`."""
    entry = _version(image, version, command, by, at)
    return {
        "name": name,
        "description": description,
        **{k: entry[k] for k in ("version", "image", "image_ref", "command")},
        "created_by": by,
        "created_at": at,
        "updated_by": by,
        "updated_at": at,
        "history": [entry],
    }


def publish(record: dict, image: str, version: str, command, by: str, at: str) -> dict | None:
    """The record with `version` current, or None when it already is (a harmless repeat).

    A version seen before with the same image and command becomes current again (a rollback,
    recorded in the history); with another image or command it is a VersionConflict."""
    if command is INHERIT:
        command = record["command"]
    for entry in record["history"]:
        if entry["version"] == version and not _same_content(entry, image, command):
            raise VersionConflict(
                f"Version {version} of {record['name']} was published with image "
                f"{entry['image_ref']} and command {entry['command']}; publish a new version."
            )
    if record["version"] == version:
        return None
    entry = _version(image, version, command, by, at)
    return {
        **record,
        **{k: entry[k] for k in ("version", "image", "image_ref", "command")},
        "updated_by": by,
        "updated_at": at,
        "history": [*record["history"], entry],
    }


def configured_change(record: dict | None, algo: AlgorithmConfig, at: str) -> dict | None:
    """What start-up registration of a configured algorithm writes: the algorithm when it is
    missing, its configured version when the registry has never seen that version, otherwise
    nothing; so restarting with an old configuration never rolls back a version an admin
    published, and bumping the configured version publishes it once."""
    if record is None:
        return new_record(algo.name, algo.image, algo.version, algo.command, algo.description,
                          CONFIG_PUBLISHER, at)  # fmt: skip
    if any(e["version"] == algo.version for e in record["history"]):
        return None
    try:
        return publish(record, algo.image, algo.version, algo.command, CONFIG_PUBLISHER, at)
    except VersionConflict:  # unreachable: the version is new
        return None


def resolved_spec(spec: dict, current: dict) -> dict:
    """A job spec that named an algorithm, fixed to the algorithm's `current` version: the
    image reference it runs, the algorithm and version it came from (next to `image`), and
    the algorithm's command unless the job gave one."""
    out = {}
    for key, value in spec.items():
        if key == "image":
            out["image"] = current["image_ref"]
            out["algorithm"] = {"name": current["name"], "version": current["version"]}
        elif key == "command":
            out["command"] = value if value is not None else current["command"]
        elif key != "algorithm":
            out[key] = value
    return out


def summary(record: dict) -> dict:
    """The list view: the record without its history."""
    return {k: v for k, v in record.items() if k != "history"}


class AlgorithmRegistry:
    def __init__(self, client: redis.Redis, configured: list[AlgorithmConfig] | None = None):
        self.redis = client
        self.configured = list(configured or [])
        self._registered = not self.configured

    # --- start-up registration --------------------------------------------------------
    def register_configured(self) -> None:
        """Idempotent, and safe to run in many processes at once (compare-and-set)."""
        for algo in self.configured:
            change = partial(configured_change, algo=algo, at=utcnow())
            _, changed = self._update(algo.name, change)
            if changed:
                log.info("algorithm %s: registered version %s from the configuration",
                         algo.name, algo.version)  # fmt: skip
        self._registered = True

    def register_configured_at_start(self) -> None:
        """Best effort: with Redis down at start the API still starts, and the registration
        runs before the first registry read instead."""
        try:
            self.register_configured()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.warning("algorithm registration deferred (Redis unavailable: %s)", exc)

    def _ready(self) -> None:
        if not self._registered:
            self.register_configured()

    # --- reads ------------------------------------------------------------------------
    def get(self, name: str) -> dict | None:
        self._ready()
        raw = self.redis.get(keys.algorithm(name))
        return json.loads(raw) if raw else None

    def list_all(self) -> list[dict]:
        self._ready()
        names = sorted(n.decode() for n in self.redis.smembers(keys.ALGORITHM_NAMES))
        if not names:
            return []
        raws = self.redis.mget([keys.algorithm(n) for n in names])
        return [json.loads(raw) for raw in raws if raw]

    def resolve(self, name: str) -> dict | None:
        """The current version of an algorithm (name, version, image, image_ref, command)."""
        record = self.get(name)
        if record is None:
            return None
        return {k: record[k] for k in ("name", "version", "image", "image_ref", "command")}

    # --- writes -----------------------------------------------------------------------
    def create(self, name: str, image: str, version: str, command: list[str] | None,
               description: str, by: str) -> dict:  # fmt: skip
        self._ready()

        def change(record):
            if record is not None:
                raise AlgorithmExists(name)
            return new_record(name, image, version, command, description, by, utcnow())

        return self._update(name, change)[0]

    def publish(self, name: str, image: str, version: str, command, by: str) -> tuple[dict, bool]:
        """(record, changed); `command=INHERIT` keeps the current command."""
        self._ready()

        def change(record):
            if record is None:
                raise UnknownAlgorithm(name)
            return publish(record, image, version, command, by, utcnow())

        return self._update(name, change)

    def _update(self, name: str, change) -> tuple[dict | None, bool]:
        """Apply `change(record or None) -> new record or None (no change)` atomically."""
        key = keys.algorithm(name)
        with self.redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    current = json.loads(raw) if raw else None
                    new = change(current)
                    if new is None:
                        pipe.unwatch()
                        return current, False
                    pipe.multi()
                    pipe.set(key, json.dumps(new, separators=(",", ":")))
                    pipe.sadd(keys.ALGORITHM_NAMES, name)
                    pipe.execute()
                    return new, True
                except WatchError:
                    continue
