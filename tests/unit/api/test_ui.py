"""The dashboard's pages (wrapper.api.ui): served under a strict Content-Security-Policy, with
no inline script or style for it to need, and the vendored front-end files exactly the pinned
packages' (wrapper/ui/vendor.json). The browser test: tests/integration/ui."""

import re

import pytest

from wrapper.api.ui import STATIC
from wrapper.ui import vendor

FILES = ("/ui/static/js/main.js", "/ui/static/app.css", "/ui/static/vendor/uPlot.esm.js",
         "/ui/static/vendor/htm-preact-standalone.module.js")  # fmt: skip


def test_ui_redirects_to_its_page_under_the_policy(client):
    assert client.get("/ui").status_code == 308
    assert client.get("/ui").headers["Location"].endswith("/ui/")
    page = client.get("/ui/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    policy = dict(
        p.strip().split(" ", 1) for p in page.headers["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "connect-src"):
        assert policy[directive] == "'self'", directive
    assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", FILES)
def test_its_files_are_served_under_the_policy_without_a_token(client, path):
    answer = client.get(path)
    assert answer.status_code == 200, path
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    kind = "text/css" if path.endswith(".css") else "text/javascript"
    assert answer.mimetype == kind


def test_a_missing_file_is_a_404(client):
    assert client.get("/ui/static/js/nothing.js").status_code == 404


def test_no_inline_script_style_or_handler_anywhere():
    for path in STATIC.rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert "<style" not in text and " style=" not in text, path
        assert not re.search(r"\son[a-z]+=", text), path
    for path in (STATIC / "js").rglob("*.js"):
        text = path.read_text()
        assert "eval(" not in text and "new Function" not in text, path
        assert "innerHTML" not in text, path


def test_the_vendored_files_are_the_pinned_packages_files():
    assert vendor.problems() == []
    for pkg in vendor.packages():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pkg["version"]), pkg["name"]
        assert pkg["integrity"].startswith("sha512-"), pkg["name"]
