"""Stripe's OpenAPI description as the stand-in's router and validator: which operations
exist, which parameters each declares, and Stripe's error shape for anything else."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

SPEC_PATH = Path(os.environ.get(
    "STRIPE_OPENAPI_SPEC", "/work/shared/provider-specs/stripe_spec3_2023-09-12.yaml"))
FORM = "application/x-www-form-urlencoded"
HTTP_METHODS = ("get", "post", "delete")


@cache
def load_spec(path: Path = SPEC_PATH) -> dict[str, Any]:
    """The official description, or its committed extract where it is not at hand."""
    if not path.exists():
        subset: dict[str, Any] = json.loads(
            Path(__file__).with_name("stripe_openapi_subset.json").read_text())
        return subset
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as handle:
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 - a safe loader
    return spec


class StripeError(Exception):
    """An answer in Stripe's error shape."""

    def __init__(self, status: int, message: str, *, type: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        error: dict[str, Any] = {"type": type, "message": message}
        if code:
            error["code"] = code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
        if param:
            error["param"] = param
        error.update(extra)
        self.body = {"error": error}



@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def form_schema(self) -> dict[str, Any]:
        body = self.spec.get("requestBody") or {}
        schema = body.get("content", {}).get(FORM, {}).get("schema") or {}
        return schema if isinstance(schema, dict) else {}

    @property
    def query_names(self) -> set[str]:
        return {p["name"] for p in self.spec.get("parameters", []) if p.get("in") == "query"}


class SpecIndex:
    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.version = str(spec["info"]["version"])
        operations = []
        for template, item in spec["paths"].items():
            for method, operation in item.items():
                if method in HTTP_METHODS:
                    regex = "^" + re.sub(r"\\\{[^/]+?\\\}", "([^/]+)", re.escape(template)) + "$"
                    operations.append(Operation(method.upper(), template, re.compile(regex),
                                                operation))
        # Fixed paths win over templated ones (/v1/payment_intents/search over /{intent}).
        self.operations = sorted(operations, key=lambda o: o.template.count("{"))

    def find(self, method: str, path: str) -> tuple[Operation, tuple[str, ...]] | None:
        for operation in self.operations:
            if operation.method == method and (match := operation.pattern.match(path)):
                return operation, match.groups()
        return None

    @staticmethod
    def check(operation: Operation, form: Mapping[str, str], query: Mapping[str, str]) -> None:
        """Raise StripeError for anything the operation does not declare or accept."""
        for key in query:
            if top_level(key) not in operation.query_names:
                raise StripeError(400, f"Received unknown parameter: {top_level(key)}",
                                  code="parameter_unknown", param=top_level(key))
        schema = operation.form_schema
        properties = schema.get("properties") or {}
        for key, value in form.items():
            name = top_level(key)
            if name not in properties:
                raise StripeError(400, f"Received unknown parameter: {name}",
                                  code="parameter_unknown", param=name)
            declared = properties[name]
            if name != key:  # a nested key: only objects and arrays have those
                if declared.get("type") not in ("object", "array") and "anyOf" not in declared:
                    raise StripeError(400, f"Invalid {name}: not an object or array",
                                      param=name)
                continue
            if "enum" in declared and value not in declared["enum"]:
                raise StripeError(
                    400, f"Invalid {name}: must be one of {', '.join(declared['enum'])}",
                    code="parameter_invalid_string", param=name)
            if declared.get("type") == "integer" and not re.fullmatch(r"-?\d+", value):
                raise StripeError(400, f"Invalid integer: {value}",
                                  code="parameter_invalid_integer", param=name)
            if declared.get("type") == "boolean" and value not in ("true", "false"):
                raise StripeError(400, f"Invalid boolean: {value}", param=name)
        present = {top_level(key) for key in form}
        for name in schema.get("required") or []:
            if name not in present:
                raise StripeError(400, f"Missing required param: {name}.",
                                  code="parameter_missing", param=name)


def top_level(key: str) -> str:
    """`metadata[order_id]` -> `metadata`, `expand[]` -> `expand`."""
    return key.split("[", 1)[0]


def nested(form: Mapping[str, str], name: str) -> dict[str, str]:
    """The `name[...]` keys of a form as a dict (`metadata[a]=1` -> {"a": "1"})."""
    prefix = name + "["
    return {key[len(prefix):-1]: value for key, value in form.items()
            if key.startswith(prefix) and key.endswith("]")}

