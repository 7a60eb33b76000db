"""Nodes of a test's own on the local control plane: kwok fake nodes (the running kwok takes
every node annotated for it) with a label and a NoSchedule taint only the test's pods select
and tolerate, so other tests' pods never land there and no other team's pool includes them."""

from kubernetes import client


def create_kwok_node(core: client.CoreV1Api, name: str, allocatable: dict,
                     labels: dict | None = None,
                     taints: list[dict] | None = None) -> None:  # fmt: skip
    core.create_node({
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})},
                     "annotations": {"kwok.x-k8s.io/node": "fake",
                                     "node.alpha.kubernetes.io/ttl": "0"}},
        "spec": {"taints": taints or []},
        "status": {"allocatable": allocatable, "capacity": allocatable},
    })  # fmt: skip


def delete_nodes(core: client.CoreV1Api, names: list[str]) -> None:
    for name in names:
        try:
            core.delete_node(name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


POOL_KEY = "trainq.dev/test-pool"


def pool_taint(pool_id: str) -> dict:
    return {"key": POOL_KEY, "value": pool_id, "effect": "NoSchedule"}


def pool_teams(pool_id: str, names: tuple[str, ...], quota: dict) -> list[dict]:
    """The local config's teams `names`, each pinned to the test's pool (its label selected, its
    taint tolerated) with `quota`."""
    import yaml

    from tests.support import LOCAL_CONFIG

    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    placement = {
        "node_selector": {POOL_KEY: pool_id},
        "tolerations": [{"key": POOL_KEY, "operator": "Equal", "value": pool_id,
                         "effect": "NoSchedule"}],
        "quota": quota,
    }  # fmt: skip
    return [{**t, **placement} for t in raw["teams"] if t["name"] in names]
