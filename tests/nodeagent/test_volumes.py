"""Claims on one host (pure parts): a pod's persistentVolumeClaim mounts map to host directories
(subPath under the claim's), and paths under a mountPath in env, command and args are rewritten
to them, once, the deepest mount first; other volumes and look-alike paths are left alone."""

from pathlib import Path

import pytest
from nodeagent.envrewrite import JobPorts, Mount, host_path, process_spec
from nodeagent.volumes import VolumeError, container_mounts

CLAIMS = {("team-a", "ckpt"): Path("/data/pv-ckpt"), ("team-a", "data"): Path("/data/pv-data")}


def claim_dir(namespace: str, claim: str) -> Path:
    return CLAIMS.get((namespace, claim), Path("/state/claims") / namespace / claim)


def pod(mounts: list[dict], env: list[dict] | None = None, args: list[str] | None = None):
    return {
        "metadata": {"name": "j1-master-0", "namespace": "team-a"},
        "spec": {
            "volumes": [
                {"name": "checkpoints", "persistentVolumeClaim": {"claimName": "ckpt"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "data", "readOnly": True}},
                {"name": "other", "persistentVolumeClaim": {"claimName": "unbound"}},
                {"name": "scratch", "emptyDir": {}},
            ],
            "containers": [
                {
                    "name": "pytorch",
                    "command": ["python", "-m", "train"],
                    "args": args or [],
                    "env": env or [],
                    "volumeMounts": mounts,
                }
            ],
        },
    }


def mounts_of(p: dict) -> list[Mount]:
    return container_mounts(p, p["spec"]["containers"][0], claim_dir)


def test_claims_map_to_their_directories_and_a_sub_path_below():
    p = pod(
        [
            {"name": "checkpoints", "mountPath": "/checkpoints", "subPath": "tq-7"},
            {"name": "data", "mountPath": "/data/", "readOnly": True},
            {"name": "other", "mountPath": "/other", "subPath": "a/b"},
            {"name": "scratch", "mountPath": "/scratch"},  # not a claim: not emulated
        ]
    )
    assert mounts_of(p) == [
        Mount("/checkpoints", Path("/data/pv-ckpt/tq-7")),
        Mount("/data", Path("/data/pv-data")),
        Mount("/other", Path("/state/claims/team-a/unbound/a/b")),
    ]


@pytest.mark.parametrize("sub", ["../escape", "/abs", "a/../../b"])
def test_a_sub_path_never_leaves_its_claim(sub):
    p = pod([{"name": "checkpoints", "mountPath": "/checkpoints", "subPath": sub}])
    with pytest.raises(VolumeError, match="leaves the volume"):
        mounts_of(p)


def test_paths_under_a_mount_path_only_and_the_deepest_mount_wins():
    mounts = [Mount("/ckpt", Path("/host/a")), Mount("/ckpt/deep", Path("/host/b"))]
    assert host_path("/ckpt", mounts) == "/host/a"
    assert host_path("/ckpt/x/y.pt", mounts) == "/host/a/x/y.pt"
    assert host_path("/ckpt/deep/z", mounts) == "/host/b/z"
    for untouched in ("/ckpt2", "/ckpt-old/x", "ckpt/x", "--dir=/ckpt", "x /ckpt"):
        assert host_path(untouched, mounts) == untouched


def test_env_and_args_see_the_host_directory_once():
    # The host directory itself starts with the mountPath: it must not be rewritten again.
    mounts = [Mount("/work", Path("/work/repo/.local/claims/w"))]
    p = pod(
        [],
        env=[
            {"name": "CHECKPOINT_DIR", "value": "/work"},
            {"name": "OUT", "value": "$(CHECKPOINT_DIR)/out"},
            {"name": "ELSEWHERE", "value": "/workshop"},
        ],
        args=["/work/cfg.yaml", "$(CHECKPOINT_DIR)", "$(OUT)/x"],
    )
    argv, env = process_spec(p, p["spec"]["containers"][0], JobPorts(), {}, "/py", mounts=mounts)
    host = "/work/repo/.local/claims/w"
    assert env["CHECKPOINT_DIR"] == host and env["OUT"] == f"{host}/out"
    assert env["ELSEWHERE"] == "/workshop"
    assert argv == ["/py", "-m", "train", f"{host}/cfg.yaml", host, f"{host}/out/x"]
