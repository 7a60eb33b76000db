"""The watcher's leader election (queue_workers.watcher.leader): the pure verdicts and Lease
bodies, and the elector's timing on a clock the test moves, over an in-memory Lease store
with the apiserver's optimistic concurrency (the real apiserver: tests/integration/watcher/
test_leader_election.py)."""

import pytest
from pydantic import ValidationError

from queue_workers.kube.errors import Conflict
from queue_workers.watcher.leader import (
    Elector,
    Lost,
    Verdict,
    claimed,
    lease_name,
    lease_namespace,
    released,
    verdict,
)
from wrapper.config import WatcherSettings

NOW = "2026-12-02T10:00:00.000000Z"


def lease(holder: str, duration: int = 8, version: str = "1", transitions: int = 2) -> dict:
    return {
        "metadata": {"name": "trainq-watcher-tq", "resourceVersion": version},
        "spec": {"holderIdentity": holder, "leaseDurationSeconds": duration,
                 "acquireTime": "2026-12-02T09:00:00.000000Z",
                 "renewTime": "2026-12-02T09:59:59.000000Z", "leaseTransitions": transitions},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("current", "unchanged_for", "expected"),
    [
        (None, 0, Verdict.CREATE),
        (lease("me"), 100, Verdict.RENEW),
        (lease(""), 0, Verdict.TAKE),  # released on SIGTERM: no wait
        (lease("other"), 7.9, Verdict.WAIT),
        (lease("other"), 8, Verdict.TAKE),  # unchanged for a whole lease on our clock
        (lease("other", duration=30), 8, Verdict.WAIT),  # the holder's duration counts
    ],
)
def test_verdict(current, unchanged_for, expected):
    assert verdict(current, "me", unchanged_for) is expected


def test_a_take_over_counts_a_transition_and_keeps_the_version_read():
    body = claimed(lease("other"), "trainq-watcher-tq", "me", 8, NOW)
    assert body["metadata"]["resourceVersion"] == "1"  # the write fails if anyone wrote since
    assert body["spec"] == {
        "holderIdentity": "me",
        "leaseDurationSeconds": 8,
        "acquireTime": NOW,
        "renewTime": NOW,
        "leaseTransitions": 3,
    }


def test_a_renewal_keeps_acquire_time_and_transitions():
    spec = claimed(lease("me"), "trainq-watcher-tq", "me", 8, NOW)["spec"]
    assert spec["acquireTime"] == "2026-12-02T09:00:00.000000Z" and spec["renewTime"] == NOW
    assert spec["leaseTransitions"] == 2


def test_a_new_lease_has_no_version_and_is_labelled():
    body = claimed(None, "trainq-watcher-tq", "me", 8, NOW)
    assert "resourceVersion" not in body["metadata"]
    assert body["metadata"]["labels"] == {"app.kubernetes.io/managed-by": "trainq"}
    assert body["spec"]["leaseTransitions"] == 0


def test_released_lease_is_free_for_the_next_candidate():
    body = released(lease("me"), NOW)
    assert verdict(body, "other", 0) is Verdict.TAKE
    assert body["metadata"]["resourceVersion"] == "1" and body["spec"]["leaseTransitions"] == 2


def test_lease_name_and_namespace(tmp_path):
    assert lease_name("t1234") == "trainq-watcher-t1234"
    pod_file = tmp_path / "namespace"
    assert lease_namespace({}, pod_file) == "default"  # the local stack
    pod_file.write_text("trainq\n")
    assert lease_namespace({}, pod_file) == "trainq"  # in a pod: its own namespace
    assert lease_namespace({"TRAINQ_NAMESPACE": "ops"}, pod_file) == "ops"


@pytest.mark.parametrize(
    "values", [{"renew_seconds": 8}, {"retry_seconds": 6}, {"lease_seconds": 1}]
)
def test_settings_must_let_a_leader_stop_before_a_standby_takes_over(values):
    with pytest.raises(ValidationError):
        WatcherSettings(**values)


# --- the elector's timing ----------------------------------------------------------------
class Leases:
    """One namespace's Leases as the apiserver keeps them: a write carrying an old
    resourceVersion (or creating one that exists) is refused with Conflict."""

    def __init__(self):
        self.items: dict[str, dict] = {}
        self.version = 0

    def read_lease(self, namespace, name, timeout):
        return self.items.get(name)

    def write_lease(self, namespace, body, timeout):
        name = body["metadata"]["name"]
        current = (self.items.get(name) or {}).get("metadata", {}).get("resourceVersion")
        if body["metadata"].get("resourceVersion") != current:
            raise Conflict("409")
        self.version += 1
        self.items[name] = {**body, "metadata": {**body["metadata"],
                                                 "resourceVersion": str(self.version)}}  # fmt: skip
        return self.items[name]


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def elector(leases, clock, identity):
    return Elector(leases, "default", "trainq-watcher-tq", WatcherSettings(), identity, clock)


def test_standby_takes_over_only_after_a_lease_unchanged_on_its_own_clock():
    leases, clock = Leases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.attempt(clock() + 5) and not b.attempt(clock() + 5)
    a.leading = True
    clock.now += 5
    assert a.attempt(clock() + 5)  # a renews: b's count starts again when it sees that
    clock.now += 7
    assert not b.attempt(clock() + 5)
    clock.now += 8  # a died: unchanged for a whole lease since b saw it change
    assert b.attempt(clock() + 5)
    assert leases.items["trainq-watcher-tq"]["spec"]["holderIdentity"] == "b"
    with pytest.raises(Lost, match="held by b"):
        a.attempt(clock() + 5)  # a's renewal finds b: stop at once


def test_renew_time_in_the_past_does_not_let_a_standby_in_early():
    """A holder's renewTime is its clock: a skewed one must not hand the lease over."""
    leases, clock = Leases(), Clock()
    leases.items["trainq-watcher-tq"] = lease("other", version="7")  # renewTime: an hour ago
    b = elector(leases, clock, "b")
    assert not b.attempt(clock() + 5)
    clock.now += 7.9
    assert not b.attempt(clock() + 5)
    clock.now += 0.1
    assert b.attempt(clock() + 5)


def test_leader_is_overdue_after_the_renew_deadline_counted_from_sending():
    leases, clock = Leases(), Clock()
    a = elector(leases, clock, "a")
    assert a.attempt(clock() + 5)
    clock.now += 5.9
    assert not a.overdue()
    clock.now += 0.1
    assert a.overdue()  # 2 s before a standby may take over (lease 8 s)


def test_release_hands_the_lease_to_the_next_candidate_at_once():
    leases, clock = Leases(), Clock()
    a, b = elector(leases, clock, "a"), elector(leases, clock, "b")
    assert a.attempt(clock() + 5) and not b.attempt(clock() + 5)
    a.leading = True
    assert a.release()
    assert b.attempt(clock() + 5)  # no clock movement needed
    assert not a.release()  # not the holder any more: nothing written
