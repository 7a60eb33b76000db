"""Route declarations: the declared status and model shape every answer, a handler's answer
that breaks its own model is a logged 500 (never the client's 422), and the declarations are
what the OpenAPI document shows."""

from flask import Blueprint, Flask
from pydantic import BaseModel

from wrapper.api import errors as api_errors
from wrapper.api.openapi import document
from wrapper.api.routes import Reply, Routes, declared, errors


class Thing(BaseModel):
    id: int
    name: str


def app_with(handler, reply=None):
    bp = Blueprint("things", __name__, url_prefix="/things")
    routes = Routes(bp)
    declare = routes.post(
        "/<int:thing_id>",
        summary="Make a thing",
        body=Thing,
        reply=reply or Reply(201, "Made", Thing),
        errors=errors(400, 422),
    )
    declare(handler)
    app = Flask("test")
    app.register_blueprint(bp)
    api_errors.register(app)
    return app


def test_the_declared_status_and_model_shape_the_answer():
    app = app_with(lambda thing_id: ({"id": thing_id, "name": "x", "extra": 1}, {"X-A": "1"}))
    response = app.test_client().post("/things/7")
    assert response.status_code == 201
    assert response.get_json() == {"id": 7, "name": "x"}  # serialized through Thing
    assert response.headers["X-A"] == "1"


def test_an_answer_that_breaks_its_model_is_a_500_not_a_422(caplog):
    app = app_with(lambda thing_id: {"id": "not a number", "name": "x"})
    response = app.test_client().post("/things/7")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "Traceback" not in response.get_data(as_text=True)
    assert "ResponseInvalid" in caplog.text


def test_a_model_instance_is_served_as_is():
    app = app_with(lambda thing_id: Thing(id=thing_id, name="y"))
    assert app.test_client().post("/things/3").get_json() == {"id": 3, "name": "y"}


def test_the_document_shows_the_declaration():
    app = app_with(lambda thing_id: None)
    doc = document(declared(app))
    item = doc["paths"]["/things/{thing_id}"]
    assert item["parameters"] == [
        {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "integer"}}
    ]
    op = item["post"]
    assert op["summary"] == "Make a thing"
    assert op["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }
    assert set(op["responses"]) == {"201", "400", "422"}
    assert {"Thing", "Problem"} <= set(doc["components"]["schemas"])


def test_a_problem_that_breaks_its_schema_is_still_a_problem_500(caplog):
    from wrapper.api.errors import ApiError

    def handler(thing_id):
        raise ApiError(422, "validation-error", "Unprocessable", "bad",
                       errors=[{"field": 1, "message": None}])  # fmt: skip

    response = app_with(handler).test_client().post("/things/1")
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["title"] == "Internal Server Error"
    assert "breaks the Problem schema" in caplog.text
