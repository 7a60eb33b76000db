"""The configuration of what teams share: per-team submission caps (a default, a team's own
override), retention (a PyTorchJob never outlives its record) and the dispatch retry budget."""

import copy

import pytest
import yaml

from tests.unit.conftest import LOCAL_CONFIG
from wrapper.config import ConfigError, load_config


def _load(tmp_path, **changes) -> object:
    raw = copy.deepcopy(yaml.safe_load(LOCAL_CONFIG.read_text()))
    for key, value in changes.items():
        if key == "alpha":
            raw["teams"][0].update(value)
        else:
            raw[key] = value
    path = tmp_path / "trainq.yaml"
    path.write_text(yaml.safe_dump(raw))
    return load_config(path)


def test_sane_defaults(config):
    limits = config.submission_limits("alpha")
    assert limits.max_queued_jobs == 10_000 and limits.per_minute == 600
    assert limits.bucket_size == 600  # one minute's worth at once
    assert config.retention.finished_seconds == 30 * 86_400
    assert config.retention.pytorchjob_seconds == 86_400
    assert config.dispatch.retry_budget_seconds == 600


def test_a_team_may_have_its_own_submission_limits(tmp_path):
    config = _load(
        tmp_path,
        submissions={"max_queued_jobs": 50, "per_minute": 6},
        alpha={"submissions": {"max_queued_jobs": 5, "per_minute": 1.5, "burst": 3}},
    )
    assert config.submission_limits("alpha").max_queued_jobs == 5
    assert config.submission_limits("alpha").bucket_size == 3
    assert config.submission_limits("beta").max_queued_jobs == 50
    assert config.submission_limits("beta").bucket_size == 6


@pytest.mark.parametrize(
    ("changes", "named"),
    [({"submissions": {"max_queued_jobs": 0}}, "submissions.max_queued_jobs"),
     ({"submissions": {"per_minute": 0}}, "submissions.per_minute"),
     ({"submissions": {"per_minut": 5}}, "submissions.per_minut"),
     ({"retention": {"finished_seconds": 3600, "pytorchjob_seconds": 7200}},
      "pytorchjob_seconds must not exceed finished_seconds"),
     ({"dispatch": {"retry_budget_seconds": 0}}, "dispatch.retry_budget_seconds")],
)  # fmt: skip
def test_bad_values_are_refused_naming_the_key(tmp_path, changes, named):
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, **changes)
    assert named in str(info.value)
