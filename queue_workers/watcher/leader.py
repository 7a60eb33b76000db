"""Leader election among watcher replicas, on a coordination.k8s.io/v1 Lease: only the leader
runs the reconcilers (two watchers acting at once would both delete, suspend and re-queue).

The rules are client-go's (k8s.io/client-go/tools/leaderelection), so `kubectl get lease`
reads the same way:

- the Lease `trainq-watcher-<instance>` lives in trainq's own namespace (`lease_namespace`);
  its holderIdentity is `<hostname>-<pid>-<random>` (the pod's name in a cluster);
- a candidate takes it when there is none, when its holder released it (holderIdentity
  empty), or when it has not changed for its leaseDurationSeconds, timed from when this
  candidate saw it change, on this process's monotonic clock: renewTime is another machine's
  wall clock, and a skewed clock must never let two watchers lead;
- every write carries the resourceVersion the Lease was read at, so a 409 (`Conflict`) means
  another candidate wrote first and this one did not get it;
- the leader renews every retry_seconds; when it finds another holder, or has not renewed for
  renew_seconds (counted from when it sent its last successful renewal, so never later than
  the apiserver's write), it has lost the Lease and must stop at once (`overdue`, `Lost`).
  renew_seconds < lease_seconds: it stops before any standby may take over;
- on SIGTERM the leader hands the Lease back (`release`) so a standby takes over at its next
  poll instead of after the Lease expired.
"""

import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

from queue_workers.kube.client import Kube
from queue_workers.kube.errors import Conflict, error_message
from wrapper.config import WatcherSettings

log = logging.getLogger(__name__)
# Where a pod finds its own namespace (the one the chart's Role grants the Lease in).
POD_NAMESPACE_FILE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
RELEASE_SECONDS = 2.0  # how long a leader going down spends handing the Lease back


def lease_name(instance: str) -> str:
    """One Lease per trainq instance: stacks sharing a cluster never share a leader."""
    return f"trainq-watcher-{instance}"


def lease_namespace(environ=os.environ, pod_file: Path = POD_NAMESPACE_FILE) -> str:
    """TRAINQ_NAMESPACE when set; in a pod, the pod's own namespace; else `default` (the local
    stack has no namespace of trainq's own, and every cluster has `default`)."""
    if environ.get("TRAINQ_NAMESPACE"):
        return environ["TRAINQ_NAMESPACE"]
    try:
        return pod_file.read_text().strip() or "default"
    except OSError:
        return "default"


def new_identity() -> str:
    """Unique per process, even for a process restarted with the same pid in the same pod."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def micro_time() -> str:
    """Now, as a Lease's MicroTime fields take it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# --- deciding (pure) -----------------------------------------------------------------------
class Verdict(Enum):
    CREATE = "create"  # there is no Lease yet
    TAKE = "take"  # released or expired: write ourselves in
    RENEW = "renew"  # ours: write a new renewTime
    WAIT = "wait"  # another live holder's


def holder(lease: dict | None) -> str:
    return ((lease or {}).get("spec") or {}).get("holderIdentity") or ""


def verdict(lease: dict | None, me: str, unchanged_for: float) -> Verdict:
    """What `me` may do with the Lease as read, `unchanged_for` seconds after it last saw the
    Lease change (on its own clock)."""
    if lease is None:
        return Verdict.CREATE
    who = holder(lease)
    if who == me:
        return Verdict.RENEW
    duration = (lease.get("spec") or {}).get("leaseDurationSeconds") or 0
    if not who or unchanged_for >= duration:
        return Verdict.TAKE
    return Verdict.WAIT


def claimed(lease: dict | None, name: str, me: str, lease_seconds: int, now: str) -> dict:
    """The Lease that makes `me` the holder as of `now`, to write over `lease` as read (its
    resourceVersion kept: the write fails if anyone wrote since). A renewal keeps acquireTime;
    a take-over counts one more transition."""
    spec = (lease or {}).get("spec") or {}
    ours = holder(lease) == me
    transitions = spec.get("leaseTransitions") or 0
    if lease is None:
        metadata = {"name": name, "labels": {"app.kubernetes.io/managed-by": "trainq"}}
    else:
        metadata = lease["metadata"]
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata,
        "spec": {
            "holderIdentity": me,
            "leaseDurationSeconds": lease_seconds,
            "acquireTime": spec.get("acquireTime") if ours else now,
            "renewTime": now,
            "leaseTransitions": transitions if ours or lease is None else transitions + 1,
        },
    }


def released(lease: dict, now: str) -> dict:
    """The Lease handed back (as client-go does): no holder, so the next candidate takes it."""
    spec = lease.get("spec") or {}
    return {**lease, "spec": {"holderIdentity": "", "leaseDurationSeconds": 1,
                              "acquireTime": now, "renewTime": now,
                              "leaseTransitions": spec.get("leaseTransitions") or 0}}  # fmt: skip


# --- acting ----------------------------------------------------------------------------------
class Lost(Exception):
    """The leader found the Lease held by someone else (or gone)."""


class Elector:
    def __init__(
        self,
        kube: Kube,
        namespace: str,
        name: str,
        settings: WatcherSettings,
        identity: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.kube, self.settings, self.clock = kube, settings, clock
        self.namespace, self.name = namespace, name
        self.where = f"{namespace}/{name}"
        self.identity = identity or new_identity()
        self.leading = False
        self._lease: dict | None = None  # as last read or written
        self._seen_at = clock()  # when _lease last changed, as this process saw it
        self._renewed_at = -float("inf")  # when the last successful write was sent
        self._releasing = threading.Event()

    def _observe(self, lease: dict | None) -> None:
        version = ((lease or {}).get("metadata") or {}).get("resourceVersion")
        if version != ((self._lease or {}).get("metadata") or {}).get("resourceVersion"):
            self._seen_at = self.clock()
        self._lease = lease

    def _timeout(self, until: float) -> float:
        return max(until - self.clock(), 0.1)

    def attempt(self, until: float) -> bool:
        """One round: read the Lease and write it when the verdict allows; True when this
        process holds it afterwards. Each request must end by `until` (monotonic). Raises
        Lost when the leader finds someone else's (or no) Lease."""
        sent = self.clock()
        lease = self.kube.read_lease(self.namespace, self.name, self._timeout(until))
        self._observe(lease)
        if self.leading and holder(lease) != self.identity:
            raise Lost(f"held by {holder(lease) or 'nobody'}" if lease else "it was deleted")
        decision = verdict(lease, self.identity, self.clock() - self._seen_at)
        if decision is Verdict.WAIT:
            return False
        body = claimed(lease, self.name, self.identity, self.settings.lease_seconds, micro_time())
        try:
            written = self.kube.write_lease(self.namespace, body, self._timeout(until))
        except Conflict:
            return False  # another writer came first; the next read says who
        self._observe(written)
        self._renewed_at = sent
        return True

    def acquire(self, stop: threading.Event) -> bool:
        """Stand by until this process holds the Lease (True) or `stop` is set (False)."""
        waiting_for, failure = None, None
        while not stop.is_set():
            try:
                if self.attempt(self.clock() + self.settings.renew_seconds):
                    self.leading = True
                    log.info("leading: holds lease %s as %s", self.where, self.identity)
                    return True
                failure = None
                if holder(self._lease) and holder(self._lease) != waiting_for:
                    waiting_for = holder(self._lease)
                    log.info("standing by: lease %s is held by %s (this is %s)",
                             self.where, waiting_for, self.identity)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - apiserver outages: keep standing by
                if error_message(exc) != failure:  # once per kind of failure, not every poll
                    failure = error_message(exc)
                    log.warning("cannot read or write lease %s (%s); still trying",
                                self.where, failure)  # fmt: skip
            stop.wait(self.settings.retry_seconds)
        return False

    def overdue(self) -> bool:
        """The leader has not renewed for renew_seconds: a standby may soon take over."""
        return self.clock() - self._renewed_at >= self.settings.renew_seconds

    def keep_leading(self, on_lost: Callable[[str], None]) -> threading.Thread:
        """Renew every retry_seconds in a thread of its own; `on_lost` (which must stop the
        process's reconcilers at once) is called with the reason when the Lease is lost."""
        thread = threading.Thread(target=self._renew, args=(on_lost,), name="leader", daemon=True)
        thread.start()
        return thread

    def _renew(self, on_lost: Callable[[str], None]) -> None:
        while not self._releasing.wait(self.settings.retry_seconds):
            try:
                self.attempt(self._renewed_at + self.settings.renew_seconds)
            except Lost as exc:
                if not self._releasing.is_set():  # (not our own release)
                    on_lost(str(exc))
                return
            except Exception as exc:  # noqa: BLE001 - retried until the renew deadline
                log.warning("could not renew lease %s (%s)", self.where, error_message(exc))
            if self.overdue() and not self._releasing.is_set():
                on_lost(f"not renewed for {self.settings.renew_seconds:g} s")
                return

    def release(self) -> bool:
        """Stop renewing and hand the Lease back, so a standby leads at its next poll; True
        when handed back. The caller must stop acting right after."""
        self._releasing.set()
        if not self.leading:
            return False
        until = self.clock() + RELEASE_SECONDS
        for _ in range(3):  # a renewal in flight may make our write conflict: read again
            try:
                lease = self.kube.read_lease(self.namespace, self.name, self._timeout(until))
                if holder(lease) != self.identity:
                    return False
                self.kube.write_lease(self.namespace, released(lease, micro_time()),
                                      self._timeout(until))  # fmt: skip
                log.info("released lease %s", self.where)
                return True
            except Conflict:
                continue
            except Exception as exc:  # noqa: BLE001 - a standby waits for expiry instead
                log.warning("could not release lease %s (%s)", self.where, error_message(exc))
                return False
        return False
