"""The Kubernetes side of queue_workers, and its only part that talks to the API:
`client` (the API calls: create-or-adopt, get, delete, list and watch PyTorchJobs, nodes,
namespaces; which errors are transient), `pytorchjob` (a job record -> its PyTorchJob, pure),
`status` (a PyTorchJob's status -> the job's, pure), `nodes` (which nodes count as capacity)."""
