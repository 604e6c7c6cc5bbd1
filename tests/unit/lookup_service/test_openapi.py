"""The OpenAPI document is valid and every operation shows examples."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate

from idgraph.core.settings import load_settings
from lookup_service.main import create_app


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return create_app(load_settings(redis={"url": "redis://127.0.0.1:1"})).openapi()


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _has_example(spec: dict[str, Any], content: dict[str, Any]) -> bool:
    for media in content.values():
        if "example" in media or "examples" in media:
            return True
        schema = _resolve(spec, media.get("schema", {}))
        options = schema.get("anyOf", []) or [schema]
        if all("examples" in _resolve(spec, s) for s in options):
            return True
    return False


def test_spec_is_valid(spec: dict[str, Any]) -> None:
    validate(spec)


def test_contract_paths(spec: dict[str, Any]) -> None:
    assert set(spec["paths"]) == {
        "/v1/identity/{site_id}/{cookie_id}",
        "/v1/identity/batch",
        "/v1/optout",
        "/v1/feedback",
        "/healthz",
        "/readyz",
        "/metrics",
    }


def test_every_operation_has_examples(spec: dict[str, Any]) -> None:
    missing = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            body = op.get("requestBody")
            if body and not _has_example(spec, body["content"]):
                missing.append(f"{method} {path} request")
            ok = "202" if "202" in op["responses"] else "200"  # feedback: accepted, later
            if not _has_example(spec, op["responses"][ok].get("content", {})):
                missing.append(f"{method} {path} {ok}")
            for code, response in op["responses"].items():
                if code != ok and "content" in response:
                    if not _has_example(spec, response["content"]):
                        missing.append(f"{method} {path} {code}")
            for param in op.get("parameters", []):
                if param["in"] == "path" and "examples" not in param and "example" not in param:
                    missing.append(f"{method} {path} parameter {param['name']}")
    assert not missing, missing


def test_protected_operations_declare_the_api_key(spec: dict[str, Any]) -> None:
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    for path, operations in spec["paths"].items():
        for op in operations.values():
            secured = "security" in op
            assert secured == path.startswith("/v1/"), path


def test_optout_body_is_one_of_two_forms(spec: dict[str, Any]) -> None:
    body = spec["paths"]["/v1/optout"]["post"]["requestBody"]["content"]["application/json"]
    forms = _resolve(spec, body["schema"])["oneOf"]
    assert [sorted(f["required"]) for f in forms] == [["cookie_id", "site_id"], ["login_hash"]]


def test_every_body_operation_documents_the_unparsable_body(spec: dict[str, Any]) -> None:
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            if "requestBody" in op:
                assert "400" in op["responses"], f"{method} {path}"
