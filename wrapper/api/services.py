"""What the request handlers share, attached to the Flask app by `create_app`."""

from dataclasses import dataclass

from flask import current_app

from wrapper.algorithms.registry import AlgorithmRegistry
from wrapper.config import Settings, TrainqConfig
from wrapper.jobs.store import JobStore
from wrapper.kubeclient import ApiserverProbe


@dataclass
class Services:
    config: TrainqConfig
    settings: Settings
    store: JobStore
    apiserver: ApiserverProbe
    algorithms: AlgorithmRegistry


def services() -> Services:
    return current_app.extensions["trainq"]
