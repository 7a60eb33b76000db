"""trainq's HTTP front door and the domain it shares with the queue workers, one package per
step of the flow: `api` (HTTP) → `jobs` (submission, team queues, job records) → `admission`
→ (`queue_workers` dispatches and watches) → `jobs` → `api` (status). `algorithms` is the
registry, `redis` the storage layer under them all; `config`, `clock`, `validation` and
`kubeclient` are shared. `queue_workers` imports the domain packages, never `api`; nothing
here imports `queue_workers` (docs/architecture.md). `cli` is the `trainq` command: an HTTP
client of the API that imports none of the rest (docs/cli.md).
"""
