"""What the request handlers share, built once per process by `create_app`."""

from dataclasses import dataclass

from flask import current_app

from wrapper.admission.store import AdmissionStore
from wrapper.admission.views import ViewCache
from wrapper.algorithms.registry import AlgorithmRegistry
from wrapper.config import Settings, TrainqConfig
from wrapper.jobs.status_reads import StatusReads
from wrapper.jobs.store import JobStore
from wrapper.kubeclient import ApiserverProbe


@dataclass
class Services:
    config: TrainqConfig
    settings: Settings
    store: JobStore
    apiserver: ApiserverProbe
    algorithms: AlgorithmRegistry
    admissions: AdmissionStore  # keeps parsed queued jobs between requests
    views: ViewCache  # this process's latest admission view
    status_reads: StatusReads  # records of jobs past their queue, cached coherently


def services() -> Services:
    return current_app.extensions["trainq"]
