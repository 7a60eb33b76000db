"""trainq's local node agent: a tiny kubelet that runs the pods bound to one Node of the local
control plane as real processes on this machine.

Run it as `PYTHONPATH=k8s/local python -m nodeagent --help`. One module per concern:
`node` (registration, lease, heartbeat), `pods` (watching and dispatching the node's pods),
`runner` (one pod's processes), `podstatus` (kubelet-shaped status, pure), `envrewrite` (the pod's
env on a single host, pure), `volumes` (claims as host directories), `logserver` (the
kubelet's containerLogs endpoint), `layout` (where things live in the state directory).
"""
