"""The web dashboard at /ui, served by the API itself: one page (`wrapper/ui/static/index.html`)
and its static files, under a strict Content-Security-Policy (scripts, styles and connections
from this origin only; no inline script or style, no eval, no frames). The page talks to the
same /v1 API with the token the user typed, kept in the tab's sessionStorage (docs/dashboard.md).

These are pages, not API operations: they are not in the OpenAPI document, and need no token
(the files hold no data; every datum comes from /v1 with the token)."""

from pathlib import Path

from flask import Blueprint, Response, redirect, send_from_directory

STATIC = Path(__file__).resolve().parent.parent / "ui" / "static"
CSP = "; ".join((
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self'",
    "connect-src 'self'", "font-src 'self'", "base-uri 'none'", "form-action 'self'",
    "frame-ancestors 'none'",
))  # fmt: skip
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}

bp = Blueprint("ui", __name__, url_prefix="/ui", static_folder=str(STATIC),
               static_url_path="/static")  # fmt: skip


@bp.get("")
def root():
    # The page's relative URLs (static/...) resolve under /ui/.
    return redirect("/ui/", code=308)


@bp.get("/")
def index():
    response = send_from_directory(STATIC, "index.html", max_age=0)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.after_request
def secure(response: Response) -> Response:
    response.headers.update(HEADERS)
    return response
