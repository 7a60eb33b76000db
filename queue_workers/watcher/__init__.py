"""The watcher process (`python -m queue_workers.watcher`, `process`): one reconciler per
concern, each in its own module — `mirror` (PyTorchJob status -> job records),
`cancellations`, `leases` (expired dispatch leases), `nodes` (cluster capacity) — sharing
`records` (a job record's PyTorchJob location and its `gone` transition) and `loops` (how each
outlives outages); `leader` elects the one replica that runs them. Only `queue_workers.kube`
talks to the Kubernetes API for them."""
