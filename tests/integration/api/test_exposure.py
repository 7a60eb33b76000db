"""What an anonymous caller or another team can read from a real API under gunicorn: metrics
(per-team labels) only on their own port, summed over every gunicorn worker, never on the
API's port; /readyz terse."""

import urllib.request

import pytest
import requests

from tests.support import free_port, wait_until
from tests.support.stack import Stack, job_body

pytestmark = pytest.mark.integration


@pytest.fixture
def api_stack(tmp_path, scratch_url, kubeconfig):
    s = Stack(tmp_path / "stack", scratch_url, kubeconfig)
    yield s
    s.close()


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        return answer.read().decode()


def test_metrics_on_their_own_port_only(api_stack):
    metrics_port = free_port()
    api = api_stack.start_api(metrics_port=metrics_port, workers=2)
    assert api.submit("alpha", job_body("m1")).status_code == 202
    assert api.submit("beta", job_body("m2")).status_code == 202
    # Both teams' counts, whichever of the two workers served each request.
    lines = [f'trainq_job_submissions_total{{team="{t}"}} 1.0' for t in ("alpha", "beta")]

    def counted():
        text = scrape(metrics_port)
        return text if all(line in text for line in lines) else None

    text = wait_until("both submissions counted", counted, timeout=10)
    assert "trainq_redis_memory_used_bytes" in text
    public = requests.get(f"{api.base}/metrics", timeout=5)
    assert public.status_code == 404
    assert "trainq_" not in public.text and "alpha" not in public.text


def test_readyz_is_terse_when_redis_is_down(tmp_path, kubeconfig):
    down = f"redis://:secret-pw@127.0.0.1:{free_port()}/0"
    stack = Stack(tmp_path / "stack", down, kubeconfig)
    try:
        api = stack.start_api()
        response = requests.get(f"{api.base}/readyz", timeout=10)
        assert response.status_code == 503
        assert response.json()["errors"] == [{"field": "redis", "message": "unreachable"}]
        assert "127.0.0.1" not in response.text and "secret-pw" not in response.text
    finally:
        stack.close()
