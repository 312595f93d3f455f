"""The OpenAPI 3.1 document, generated from the route tables and their pydantic models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from entrypoints.http.api import Operation
from entrypoints.http.schemas import Problem

REF = "#/components/schemas/{model}"


def build(operations: list[Operation], version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, schema)
        return {"$ref": REF.format(model=model.__name__)}

    problem = {"application/problem+json": {"schema": ref(Problem)}}
    paths: dict[str, Any] = {}
    for op in operations:
        responses: dict[str, Any] = {}
        for status, model in op.responses.items():
            if status >= 400:
                responses[str(status)] = {"description": "problem", "content": problem}
            elif model is None:
                responses[str(status)] = {"description": "OK", "content": {
                    op.content_type: {"schema": {"type": "string"}
                                      if op.content_type != "application/json"
                                      else {"type": "object"}}}}
            else:
                responses[str(status)] = {"description": "OK", "content": {
                    "application/json": {"schema": ref(model)}}}
        if op.request is not None:
            responses.setdefault("422", {"description": "invalid body", "content": problem})
        if op.auth:
            responses.setdefault("401", {"description": "not signed in", "content": problem})
        entry: dict[str, Any] = {
            "summary": op.summary, "tags": [op.tag], "responses": responses,
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}"
                           .replace("{", "").replace("}", ""),
        }
        if op.params:
            entry["parameters"] = op.params
        if op.request is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": ref(op.request)}}}
        if op.auth:
            entry["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mall integrations API", "version": version,
                 "description": "Storefront, provider webhooks and admin endpoints."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }
