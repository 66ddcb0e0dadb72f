"""The OpenAPI 3.1 document, written from the operations and their pydantic models."""

from __future__ import annotations

from typing import Any, get_args, get_origin

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from core.api.framework import (
    ANONYMOUS,
    REQUESTER,
    ApiBlueprint,
    Operation,
    openapi_path,
    path_parameters,
)
from core.schemas.common import without_null

REF = "#/components/schemas/{model}"
STATUS_TEXT = {
    400: "Bad request",
    401: "No or unknown token",
    403: "Role not allowed",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Body too large",
    415: "Body must be JSON",
    422: "Invalid input",
    429: "Too many requests from this address or for this token; wait Retry-After seconds",
}


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    if get_origin(annotation) is list:
        return get_args(annotation)[0], True
    return annotation, False


def build(blueprints: list[ApiBlueprint], prefix: str, version: str) -> dict[str, Any]:
    operations = [(bp, op) for bp in blueprints for op in bp.operations]
    wanted: set[tuple[type[BaseModel], JsonSchemaMode]] = set()
    for _, op in operations:
        if op.body is not None:
            wanted.add((op.body, "validation"))
        model, _ = _model_of(op.response)
        if model is not None:
            wanted.add((model, "serialization"))
    keys, defs = models_json_schema(
        sorted(wanted, key=lambda w: (w[0].__name__, w[1])), ref_template=REF
    )
    schemas: dict[str, Any] = dict(defs.get("$defs", {}))
    paths: dict[str, dict[str, Any]] = {}
    for _, op in operations:
        item = paths.setdefault(prefix + openapi_path(op.rule), {})
        item[op.method.lower()] = _operation(op, keys, schemas)
    _keys_by_pattern(schemas)
    sent = [p["schema"] for item in paths.values() for o in item.values() for p in o["parameters"]]
    _text_without_nul([*sent, *(schemas[name] for name in _request_models(paths, schemas))])
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "PeerLine API",
            "version": version,
            "description": "Peer support programs: roster, availability, anonymous requests.",
        },
        "paths": paths,
        "components": {
            "schemas": {**schemas, "Error": ERROR_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _keys_by_pattern(node: Any) -> None:
    """Pydantic's patternProperties for dict keys let other keys by; the API refuses those."""
    if isinstance(node, list):
        for item in node:
            _keys_by_pattern(item)
    if not isinstance(node, dict):
        return
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in node:
        [(pattern, values)] = node.pop("patternProperties").items()
        node["propertyNames"] = {**node.get("propertyNames", {}), "pattern": pattern}
        node["additionalProperties"] = values
    for value in node.values():
        _keys_by_pattern(value)


NO_NUL = "^[^\\u0000]*$"


def _text_without_nul(node: Any) -> None:
    """The API refuses NUL in any text it is sent (PostgreSQL cannot store it); say so."""
    if isinstance(node, list):
        for item in node:
            _text_without_nul(item)
    if not isinstance(node, dict):
        return
    if node.get("type") == "string" and not {"pattern", "format", "enum", "const"} & set(node):
        node["pattern"] = NO_NUL
    for value in node.values():
        _text_without_nul(value)


def _request_models(paths: dict[str, Any], schemas: dict[str, Any]) -> set[str]:
    """Names of the component schemas that request bodies use, directly or nested."""
    found: set[str] = set()
    todo = [
        o["requestBody"] for item in paths.values() for o in item.values() if "requestBody" in o
    ]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            name = ref.rsplit("/", 1)[1] if isinstance(ref, str) else None
            if name is not None and name not in found:
                found.add(name)
                todo.append(schemas[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return found


def _operation(op: Operation, keys: dict[Any, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": f"{op.method.lower()}_{op.rule.strip('/').replace('/', '_')}".replace(
            "<", ""
        )
        .replace(">", "")
        .replace("uuid:", ""),
        "parameters": _parameters(op, schemas),
        "responses": _responses(op, keys),
        "x-roles": sorted(op.roles),
    }
    doc["security"] = [{"bearer": []}] + ([{}] if ANONYMOUS in op.roles else [])
    if op.body is not None:
        doc["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": keys[(op.body, "validation")]}},
        }
    return doc


def _parameters(op: Operation, schemas: dict[str, Any]) -> list[dict[str, Any]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "format": "uuid"}
            if f"uuid:{name}" in op.rule
            else {"type": "string"},
        }
        for name in path_parameters(op.rule)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(by_alias=True, ref_template=REF)
        schemas.update(schema.get("$defs", {}))  # enums or models a parameter refers to
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": name in required,
                    # absent is how a query says "none": a parameter is never null
                    "schema": without_null({k: v for k, v in prop.items() if k != "title"}),
                }
            )
    if op.idempotent:
        params.append(IDEMPOTENCY_PARAMETER)
    return params


IDEMPOTENCY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Any unique string (a random UUID is best). A retry with the same key and "
    "body within 24 hours gets the first answer again, marked Idempotent-Replayed: true.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[ -~]+$"},
}


def _responses(op: Operation, keys: dict[Any, Any]) -> dict[str, Any]:
    model, many = _model_of(op.response)
    responses: dict[str, Any] = {}
    if model is None:
        responses[str(op.status if op.status != 200 else 204)] = {"description": "Done"}
    else:
        ref = keys[(model, "serialization")]
        schema = {"type": "array", "items": ref} if many else ref
        responses[str(op.status)] = {
            "description": "OK",
            "content": {"application/json": {"schema": schema}},
        }
    codes = {422, *op.errors} | ({400, 413, 415} if op.body is not None else set())
    codes |= {429} if op.roles & {ANONYMOUS, REQUESTER} else set()  # core/limits.py limits these
    if path_parameters(op.rule) or (op.query is not None and "program" in op.query.model_fields):
        codes.add(404)  # an unknown id or program slug, or one of another program
    if op.roles - {ANONYMOUS}:
        codes |= {401, 403}
    if op.roles == {ANONYMOUS, REQUESTER}:
        codes -= {403}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": STATUS_TEXT.get(code, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return responses


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "problems": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
                "row_errors": {"type": "array", "items": {"type": "object"}},
                "crisis": {
                    "type": "object",
                    "description": "Crisis resources, when a refused request's note needed them",
                },
            },
        }
    },
}
