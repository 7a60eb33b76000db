"""The served OpenAPI document is generated from the route declarations and the pydantic
models; it must stay what it was when it was hand-written (data/openapi.json, stored before
the generator replaced the hand-written paths): same paths, methods, parameters, request and
response schemas, status codes and texts. A deliberate API change updates the fixture in the
same commit."""

import json
from pathlib import Path

FIXTURE = Path(__file__).parent / "data" / "openapi.json"


def _operations(doc: dict) -> dict:
    """(path, method) -> the operation with its path-level parameters merged in."""
    out = {}
    for path, item in doc["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            params = sorted(shared + op.get("parameters", []), key=lambda p: (p["in"], p["name"]))
            out[(path, method)] = {**op, "parameters": params}
    return out


def test_served_spec_equals_the_stored_one(client):
    served = client.get("/openapi.json").get_json()
    stored = json.loads(FIXTURE.read_text())
    assert sorted(_operations(served)) == sorted(_operations(stored))
    for key, op in _operations(stored).items():
        assert _operations(served)[key] == op, key
    assert served["components"] == stored["components"]
    assert {k: v for k, v in served.items() if k != "paths"} == {
        k: v for k, v in stored.items() if k != "paths"
    }


def test_every_route_is_documented(offline_app):
    """Each URL rule the app serves appears in the document (no undeclared route)."""
    app = offline_app
    served = app.test_client().get("/openapi.json").get_json()
    documented = {(p, m) for p, item in served["paths"].items() for m in item if m != "parameters"}
    for rule in app.url_map.iter_rules():
        # The dashboard's pages and files (wrapper.api.ui) are not API operations.
        if rule.endpoint == "static" or rule.endpoint.startswith("ui."):
            continue
        path = rule.rule
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", f"{{{arg}}}").replace(f"<{arg}>", f"{{{arg}}}")
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method.lower()) in documented, (path, method)
