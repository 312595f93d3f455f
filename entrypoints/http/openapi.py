"""The OpenAPI 3.1 document, generated from the route tables and their pydantic models.

Besides the answers each operation declares, every operation documents the answers the edge
gives whatever the route (limits, the card-number guard, authentication), so a client built
from the document is never surprised by a status.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from entrypoints.http.api import MAX_BODY, MAX_DEPTH, Operation
from entrypoints.http.problems import MAX_HEADER, MAX_URL
from entrypoints.http.schemas import Problem

REF = "#/components/schemas/{model}"

WHY = {
    400: "malformed request: an address with a NUL character, a query parameter out of its "
         f"bounds, a body that is not UTF-8 JSON or nests deeper than {MAX_DEPTH} levels",
    401: "not signed in, or the token expired or was revoked",
    403: "signed in without the role this needs",
    404: "no such resource for this caller",
    409: "conflicts with the current state (or the same request is still running)",
    413: f"the body is larger than {MAX_BODY} bytes",
    414: f"the path and query are longer than {MAX_URL} bytes",
    415: "the body is not application/json in UTF-8 (or not a form where a form is taken)",
    422: "a rule refused the request (the detail names the field and the rule), or a card "
         "number was typed where none belongs",
    429: "too many attempts: wait for Retry-After seconds",
    431: f"a header is longer than {MAX_HEADER} bytes",
    503: "a partner is unavailable; nothing was charged or sent twice (see alternatives)",
}
# What any operation can answer, and what an operation with a body or a signed-in caller can.
EVERY = (400, 414, 422, 431)
WITH_BODY = (413, 415)
SIGNED_IN = (401,)
ADMIN = (401, 403)
WITH_PATH = (404,)


def build(operations: list[Operation], version: str) -> dict[str, Any]:
    schemas: dict[str, Any] = {}

    def ref(model: type[BaseModel]) -> dict[str, str]:
        schema = model.model_json_schema(ref_template=REF)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, definition)
        schemas.setdefault(model.__name__, schema)
        return {"$ref": REF.format(model=model.__name__)}

    problem = {"application/problem+json": {"schema": ref(Problem)}}
    retry_after = {"Retry-After": {"description": "seconds to wait before trying again",
                                   "schema": {"type": "integer", "minimum": 1}}}
    paths: dict[str, Any] = {}
    for op in operations:
        responses: dict[str, Any] = {}
        for status, model in sorted(op.responses.items()):
            if status >= 400 and model is None:
                responses[str(status)] = {"description": WHY.get(status, "problem"),
                                          "content": problem}
            elif status == 204 or 300 <= status < 400:
                responses[str(status)] = {"description": "no content" if status == 204
                                          else "a redirect (Location)"}
            elif model is None:
                responses[str(status)] = {"description": "OK", "content": {
                    op.content_type: {"schema": {"type": "string"}
                                      if op.content_type != "application/json"
                                      else {"type": "object"}}}}
            else:
                media = "application/problem+json" if status >= 400 else "application/json"
                content = {media: {"schema": ref(model)}}
                if status < 300 and op.content_type == "text/html":
                    # A page for people, the model's JSON for a client that asks for it.
                    content = {"text/html": {"schema": {"type": "string"}}, **content}
                responses[str(status)] = {"description": WHY.get(status, "OK"),
                                          "content": content}
        implied = [*EVERY, *(WITH_BODY if op.request is not None or op.form else ()),
                   *(ADMIN if op.auth == "admin" else SIGNED_IN if op.auth else ()),
                   *(WITH_PATH if "{" in op.path else ())]
        for status in implied:
            responses.setdefault(str(status), {"description": WHY[status], "content": problem})
        if "429" in responses:
            responses["429"]["headers"] = retry_after
        entry: dict[str, Any] = {
            "summary": op.summary, "tags": [op.tag], "responses": responses,
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}"
                           .replace("{", "").replace("}", ""),
        }
        if op.params:
            entry["parameters"] = op.params
        if op.request is not None:
            entry["requestBody"] = {"required": op.body_required, "content": {
                "application/json": {"schema": ref(op.request)}}}
        elif op.form is not None:
            entry["requestBody"] = {"required": True, "content": {
                "application/x-www-form-urlencoded": {"schema": op.form}}}
        if op.auth:
            entry["security"] = [{"sellerKey" if op.auth == "seller" else "bearer": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Mall integrations API", "version": version,
                 "description": "Storefront, provider webhooks and admin endpoints. Errors are "
                                "RFC 9457 problem documents; bodies are UTF-8 JSON of at most "
                                f"{MAX_BODY} bytes nesting at most {MAX_DEPTH} levels; "
                                f"addresses at most {MAX_URL} bytes; headers at most "
                                f"{MAX_HEADER} bytes each."},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "sellerKey": {"type": "http", "scheme": "bearer",
                          "bearerFormat": "seller API key (mall seller-key <seller id>)"}}},
    }
