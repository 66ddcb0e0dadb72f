"""Routes whose pydantic models both validate requests and write the OpenAPI document."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_args, get_origin

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, TypeAdapter, ValidationError

from core.api import idempotency
from core.api.auth import authenticate
from core.errors import PeerLineError, ValidationFailed

ANONYMOUS = "anonymous"
REQUESTER = "requester"


class MalformedJson(PeerLineError):
    code = "malformed_json"


class UnsupportedMediaType(PeerLineError):
    status = 415
    code = "unsupported_media_type"


@dataclass(frozen=True)
class Operation:
    rule: str
    method: str
    summary: str
    tag: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: Any
    status: int
    roles: frozenset[str]
    errors: tuple[int, ...]
    idempotent: bool = False


class ApiBlueprint(Blueprint):
    """A Flask blueprint that records each operation for the OpenAPI document."""

    def __init__(self, name: str, import_name: str, *, tag: str) -> None:
        super().__init__(name, import_name)
        self.tag = tag
        self.operations: list[Operation] = []

    def operation(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        roles: set[str] | frozenset[str],
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        response: Any = None,
        status: int = 200,
        errors: tuple[int, ...] = (),
        idempotent: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        op = Operation(
            rule,
            method,
            summary,
            self.tag,
            body,
            query,
            response,
            status,
            frozenset(roles),
            errors,
            idempotent,
        )
        self.operations.append(op)
        adapter = TypeAdapter(response) if response is not None else None

        def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
            @functools.wraps(view)
            def wrapper(**path: Any) -> Response:
                principal = authenticate(op.roles)
                attempt = idempotency.start(principal) if op.idempotent else None
                if isinstance(attempt, Response):
                    return attempt
                try:
                    response = run(principal, path)
                except BaseException:
                    if attempt is not None:
                        idempotency.forget(attempt)
                    raise
                if attempt is not None:
                    idempotency.finish(attempt, response)
                return response

            def run(principal: Any, path: dict[str, Any]) -> Response:
                kwargs: dict[str, Any] = dict(path)
                _reject_nul(path)
                if op.body is not None:
                    kwargs["body"] = parse_body(op.body)
                if op.query is not None:
                    kwargs["query"] = parse_query(op.query)
                elif request.args:
                    name = next(iter(request.args))
                    raise ValidationFailed(
                        f"{name}: this operation takes no query parameters", field=name
                    )
                result = view(principal=principal, **kwargs)
                if isinstance(result, Response):  # a view that writes its documented body itself
                    return result
                if adapter is None:
                    return Response(status=204)
                response = jsonify(adapter.dump_python(result, mode="json"))
                response.status_code = op.status
                return response

            endpoint = f"{method.lower()}_{view.__name__}"
            self.add_url_rule(rule, endpoint, wrapper, methods=[method])
            return wrapper

        return decorator


def parse_body(model: type[BaseModel]) -> BaseModel:
    if not request.mimetype == "application/json":
        raise UnsupportedMediaType("send the request body as application/json", field="body")
    raw = request.get_data(cache=False)
    try:
        parsed = model.model_validate_json(raw or b"")
    except ValidationError as exc:
        raise validation_error(exc) from None
    _reject_nul({"body": parsed})
    return parsed


def parse_query(model: type[BaseModel]) -> BaseModel:
    by_alias = {info.alias or name: info for name, info in model.model_fields.items()}
    values: dict[str, Any] = {}
    for key in request.args:
        items = request.args.getlist(key)
        field = by_alias.get(key)
        values[key] = items if field is not None and _is_list(field.annotation) else items[-1]
    _reject_nul(values)
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        raise validation_error(exc, where="query") from None


def _reject_nul(values: dict[str, Any]) -> None:
    """NUL never belongs in text, and PostgreSQL cannot store or even compare it."""
    for name, value in values.items():
        found = _nul_at(value, name)
        if found is not None:
            field = found.removeprefix("body.")
            raise ValidationFailed(f"{field}: text may not contain NUL characters", field=field)


def _nul_at(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if "\x00" in value else None
    if isinstance(value, BaseModel):
        items: list[tuple[str, Any]] = [
            (info.alias or name, getattr(value, name))
            for name, info in type(value).model_fields.items()
        ]
    elif isinstance(value, dict):
        items = [(str(k), k) for k in value] + [(str(k), v) for k, v in value.items()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = [(str(i), v) for i, v in enumerate(value)]
    else:
        return None
    for key, item in items:
        found = _nul_at(item, f"{path}.{key}")
        if found is not None:
            return found
    return None


def validation_error(exc: ValidationError, where: str = "body") -> PeerLineError:
    problems = [
        {"field": ".".join(str(p) for p in err["loc"]) or where, "message": err["msg"]}
        for err in exc.errors(include_url=False)
    ]
    if any(err["type"] == "json_invalid" for err in exc.errors(include_url=False)):
        return MalformedJson("request body is not valid JSON", field="body")
    first = problems[0]
    return ValidationFailed(
        f"{first['field']}: {first['message']}", field=first["field"], problems=problems
    )


def _is_list(annotation: Any) -> bool:
    origins = {get_origin(annotation)} | {get_origin(arg) for arg in get_args(annotation)}
    return list in origins


_PATH_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def openapi_path(rule: str) -> str:
    return _PATH_PARAM.sub(r"{\1}", rule)


def path_parameters(rule: str) -> list[str]:
    return _PATH_PARAM.findall(rule)


def error_response(error: PeerLineError) -> tuple[Response, int]:
    payload: dict[str, Any] = {"code": error.code, "message": error.message}
    if error.field:
        payload["field"] = error.field
    if error.details:
        payload.update(error.details)
    response = jsonify({"error": payload})
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="peerline"'
    return response, error.status
