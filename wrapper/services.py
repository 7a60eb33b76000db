"""What the request handlers share, attached to the Flask app by `create_app`."""

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from wrapper.config import Settings, TrainqConfig
from wrapper.registry import AlgorithmRegistry
from wrapper.store import JobStore

if TYPE_CHECKING:
    from wrapper.health import ApiserverProbe


@dataclass
class Services:
    config: TrainqConfig
    settings: Settings
    store: JobStore
    apiserver: "ApiserverProbe"
    algorithms: AlgorithmRegistry


def services() -> Services:
    return current_app.extensions["trainq"]
