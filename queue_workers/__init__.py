"""RQ workers that turn queued trainq jobs into Kubeflow PyTorchJobs, and the watcher that
mirrors PyTorchJob status back into the job records. May import `wrapper`; never the reverse."""
