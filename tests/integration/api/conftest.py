"""The API on a real Redis (a scratch DB per test) through Flask's test client, no processes."""

import pytest

from wrapper.api.app import create_app


@pytest.fixture
def app(local_config, api_settings, scratch_url):
    return create_app(local_config, api_settings(scratch_url))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["trainq"].store
