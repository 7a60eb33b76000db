"""The never-fits check at submission against a real Redis."""

import pytest

from wrapper.admission.store import AdmissionStore
from wrapper.jobs.store import JobStore
from wrapper.redis import connect

pytestmark = pytest.mark.integration


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def test_the_never_fits_answer_is_kept_while_no_node_list_is_cached(store, local_config,
                                                                     monkeypatch):  # fmt: skip
    """Before any node list is cached (no watcher yet, or the cluster unreachable) the check
    reads the quota only; its answer for a shape is worked out once, not per submission."""
    admissions = AdmissionStore(store, local_config)
    worked_out = []
    check = admissions._never_fits
    real = check.work_out
    monkeypatch.setattr(check, "work_out", lambda *a: worked_out.append(a) or real(*a))
    spec = {"resources": {"cpu": "1", "memory": "1Gi", "gpu": 0}, "workers": 1}
    too_big = {"resources": {"cpu": "1000", "memory": "1Gi", "gpu": 0}, "workers": 0}
    for _ in range(3):
        assert admissions.never_fits("alpha", spec) == []
        assert [p["field"] for p in admissions.never_fits("alpha", too_big)] == ["resources.cpu"]
    assert len(worked_out) == 2
