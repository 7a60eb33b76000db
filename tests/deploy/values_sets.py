"""The chart's value sets under test. Team namespaces are unique per call: the control plane
is shared with other tests (which use team-alpha / team-beta)."""

from tests.deploy.tools import team, unique

ALPHA_SHA = "96b19de18b9c05f8b1befddab64f030fe3203ba6f76814ce9b690eec08f5f8ce"
BETA_SHA = "d29026ad4ad16686374492f805df401d41a97843377c047a6e268094fb8e2128"
ADMIN_SHA = "78abf365bb5655ddc086c68b35f02e42b589a9afabb58684be7af259d96b492a"


def external_redis() -> dict:
    ns = unique()
    return {
        "teams": [team("ext", f"{ns}-a")],
        "redis": {"bundled": False, "external": {"url": "redis://:pw@redis.example:6379/2"}},
    }


def sentinel_redis() -> dict:
    ns = unique()
    return {"teams": [team("ha", f"{ns}-a")], "redis": {"sentinel": {"enabled": True}}}


def two_teams() -> dict:
    ns = unique()
    return {
        "teams": [
            team(
                "alpha",
                f"{ns}-a",
                weight=2,
                quota={"maxRunningJobs": 20, "cpu": "48", "memory": "384Gi", "gpu": 12},
                tokenSha256=[ALPHA_SHA],
            ),
            team(
                "beta",
                f"{ns}-b",
                quota={"maxRunningJobs": 5, "cpu": 8, "memory": "64Gi", "gpu": 0},
                borrowingLimit={"cpu": "500m", "memory": "512Mi", "gpu": 4},
                nodeSelector={"pool": "beta"},
                tolerations=[
                    {"key": "pool", "operator": "Equal", "value": "beta", "effect": "NoSchedule"}
                ],
                tokenSha256=[BETA_SHA],
            ),
        ],
        "adminTokenSha256": [ADMIN_SHA],
    }


def ingress_and_monitoring() -> dict:
    ns = unique()
    return {
        "teams": [team("mon", f"{ns}-a")],
        "ingress": {
            "enabled": True,
            "className": "nginx",
            "host": "trainq.test",
            "tls": [{"secretName": "trainq-tls", "hosts": ["trainq.test"]}],
        },
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "grafanaDashboard": {"enabled": True},
        "commonLabels": {"cost-center": "ml"},
        "commonAnnotations": {"owner": "platform"},
    }


def one_team_on_trainjob() -> dict:
    """two_teams with beta's jobs run as Trainer v2 TrainJobs (its own runtime); alpha keeps
    the default backend (PyTorchJob)."""
    values = two_teams()
    values["teams"][1].update(backend="trainjob", trainjobRuntime="torch-beta")
    return values
