"""Command line and wiring: `PYTHONPATH=k8s/local python -m nodeagent [flags]`. Every flag has
an environment default (NODEAGENT_*), so the cluster scripts can configure it without quoting.
SIGTERM/SIGINT stop the pods' processes, mark the node NotReady and exit 0."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from kubernetes import client, config

from .envrewrite import JobPorts
from .layout import Layout
from .logserver import LogServer
from .node import NodeKeeper, machine_capacity, parse_labels, parse_taint
from .pods import PodManager
from .runner import RunnerContext
from .volumes import ClaimDirs

log = logging.getLogger("nodeagent")
REPO = Path(__file__).resolve().parents[3]
# What a pod's processes inherit from the agent; everything else comes from the pod spec.
BASE_ENV_KEYS = (
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "LD_LIBRARY_PATH",
    "CUDA_VISIBLE_DEVICES",
    "CUDA_HOME",
    "NVIDIA_VISIBLE_DEVICES",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="nodeagent", description=__doc__)
    p.add_argument("--kubeconfig", default=env("KUBECONFIG", str(REPO / ".local/kubeconfig")))
    p.add_argument("--node-name", default=env("NODEAGENT_NODE_NAME", "trainq-local-node"))
    p.add_argument(
        "--port",
        type=int,
        default=int(env("NODEAGENT_PORT", "20250")),
        help="HTTPS port of the kubelet log endpoint (0: any free port)",
    )
    p.add_argument(
        "--state-dir", default=env("NODEAGENT_STATE_DIR", str(REPO / ".local/nodeagent"))
    )
    p.add_argument(
        "--workdir",
        default=env("NODEAGENT_WORKDIR", str(REPO)),
        help="cwd of the pods' processes (and on their PYTHONPATH)",
    )
    p.add_argument(
        "--label",
        action="append",
        help="node label key=value (repeatable; replaces the default "
        "$NODEAGENT_LABELS, comma-separated, else trainq.dev/pool=local)",
    )
    p.add_argument(
        "--taint",
        default=env("NODEAGENT_TAINT", "trainq.dev/local-node=true:NoSchedule"),
        help="node taint key=value:Effect; empty for none",
    )
    p.add_argument("--cpu", default=env("NODEAGENT_CPU"), help="advertised cpu (default: cores)")
    p.add_argument(
        "--memory",
        default=env("NODEAGENT_MEMORY"),
        help="advertised memory, e.g. 64Gi (default: MemTotal)",
    )
    p.add_argument(
        "--shutdown-grace",
        type=float,
        default=float(env("NODEAGENT_SHUTDOWN_GRACE", "10")),
        help="max seconds a pod gets to stop when the agent exits",
    )
    p.add_argument(
        "--pod-ip",
        default=env("NODEAGENT_POD_IP", "127.0.0.1"),
        help="IP reported for pods. 127.0.0.1 works, but the EndpointSlice controller rejects "
        "loopback addresses and logs a warning per service; a non-loopback address of this "
        "host silences that (the pods' processes still reach each other via 127.0.0.1).",
    )
    p.add_argument("--log-level", default=env("NODEAGENT_LOG_LEVEL", "INFO"))
    args = p.parse_args(argv)
    if args.label is None:
        args.label = env("NODEAGENT_LABELS", "trainq.dev/pool=local").split(",")
    return args


def base_env(workdir: Path) -> dict[str, str]:
    env = {k: os.environ[k] for k in BASE_ENV_KEYS if k in os.environ}
    # The venv's bin first, so `torchrun` or `python` found on PATH is the project's.
    env["PATH"] = os.pathsep.join(
        [str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]
    )
    env["PYTHONPATH"] = str(workdir)
    return env


def secret_lookup(api: client.CoreV1Api):
    """ConfigMap/Secret data for envFrom and *KeyRef env entries (secrets base64-decoded)."""
    import base64

    def lookup(kind: str, namespace: str, name: str):
        try:
            if kind == "configmap":
                return api.read_namespaced_config_map(name, namespace).data or {}
            data = api.read_namespaced_secret(name, namespace).data or {}
            return {k: base64.b64decode(v).decode() for k, v in data.items()}
        except client.ApiException:
            return None

    return lookup


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("kubernetes").setLevel(logging.WARNING)
    layout = Layout(Path(args.state_dir))
    layout.make()
    workdir = Path(args.workdir).resolve()

    api_client = config.new_client_from_config(config_file=args.kubeconfig)
    core = client.CoreV1Api(api_client)
    ctx = RunnerContext(
        api=core,
        layout=layout,
        ports=JobPorts(),
        workdir=workdir,
        python=sys.executable,
        base_env=base_env(workdir),
        lookup=secret_lookup(core),
        pod_ip=args.pod_ip,
        claim_dir=ClaimDirs(core, layout.claims),
    )
    pods = PodManager(core, args.node_name, ctx)
    server = LogServer(args.port, layout.pki, args.node_name, pods.log_path, pods.is_writing)
    taints = [parse_taint(args.taint)] if args.taint else []
    keeper = NodeKeeper(
        api_client,
        args.node_name,
        parse_labels([lbl for lbl in args.label if lbl]),
        taints,
        machine_capacity(args.cpu, args.memory),
        server.port,
    )

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    pods.recover()  # before the node is Ready, so nothing new starts next to leftovers
    server.start()
    keeper.register()
    keeper.start()
    threading.Thread(target=pods.run_forever, name="pod-watch", daemon=True).start()
    log.info(
        "node %s ready; logs on https://127.0.0.1:%d; workdir %s; state %s",
        args.node_name,
        server.port,
        workdir,
        layout.root,
    )

    stop.wait()
    log.info("shutting down")
    keeper.stop()
    pods.shutdown(args.shutdown_grace)
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
