"""The OpenAPI document is valid and describes every API route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate

from repo_server.services.fields import FIELD_NAMES


def test_document_is_valid_openapi(client, world) -> None:
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    upload = document["paths"]["/api/v1/resources"]["post"]["requestBody"]["content"]
    assert set(FIELD_NAMES) <= set(upload["multipart/form-data"]["schema"]["properties"])


def test_every_api_route_is_documented(app, client, world) -> None:
    documented = client.get("/api/v1/openapi.json").get_json()["paths"]
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/api/") or rule.rule == "/healthz"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        assert path in documented, f"{path} is not in openapi.json"
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in documented[path], f"{method} {path} is not documented"
