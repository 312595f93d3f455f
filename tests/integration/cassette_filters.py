"""Filters the cassettes' recorders share: what is dropped or rewritten in an answer before it
is written to disk."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any


def without_cookies(response: dict[str, Any]) -> dict[str, Any]:
    response["headers"] = {name: values for name, values in response["headers"].items()
                           if name.lower() != "set-cookie"}
    return response


def rewrite_body(response: dict[str, Any], rewrite: Callable[[str], str]) -> dict[str, Any]:
    """The answer with its body text rewritten, kept as bytes or text as it was, and its
    Content-Length still true."""
    raw = response.get("body", {}).get("string")
    if not raw:
        return response
    text = rewrite(raw.decode() if isinstance(raw, bytes) else raw)
    response["body"]["string"] = text.encode() if isinstance(raw, bytes) else text
    for name in response["headers"]:
        if name.lower() == "content-length":
            response["headers"][name] = [str(len(text.encode()))]
    return response


def blank_json_fields(text: str, fields: tuple[str, ...], placeholder: str) -> str:
    """Every `"field": "..."` string of `fields` in a JSON text replaced by `placeholder`."""
    for field in fields:
        text = re.sub(rf'("{field}"\s*:\s*)"[^"]*"', rf'\1"{placeholder}"', text)
    return text
