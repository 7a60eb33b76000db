"""Registers the `trainer` marker (pyproject.toml belongs to the whole repo)."""

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "trainer: trainer tests (tests/trainers); need torch from trainers/requirements.txt",
    )
