"""The worker process (`python -m queue_workers`): `rq_worker` (an RQ worker whose dequeue asks
the admission policy), `selection` (that policy's interface, pure) and `dispatch` (the RQ job
function that turns an admitted job into its PyTorchJob through `queue_workers.kube`)."""
