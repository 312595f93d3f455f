"""A stand-in for Twilio's Messages API, built from Twilio's official OpenAPI description
(twilio/twilio-oai, spec/json/twilio_api_v2010.json; see shared/provider-specs/SOURCES.md).

Every request is held to the spec's `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`:
the AccountSid against its path-parameter schema, Basic auth (the spec's only security
scheme) with that SID and the auth token, the media type, and the posted form, typed as the
schema says, validated by jsonschema-rs against the operation's requestBody schema (its
enums resolved, its formats checked: E.164 for `phone-number`, RFC 3986 for `uri`, and no
field the schema does not declare). Rules the spec states only in prose are checked too: a
sender (From or MessagingServiceSid) and content (Body, MediaUrl or ContentSid). Whatever
breaks them is kept in `violations` and answered 400.

The numbers of Twilio's test credentials behave as Twilio documents them ("Test
credentials", magic numbers): +15005550001 is invalid (21211), +15005550004 blocked by a STOP
reply (21610), +15005550009 no mobile number (21614). Without the spec file at hand (outside
this workplace and CI) the operation comes from twilio_messages_openapi.json beside this file,
which `messages_operation` extracted from it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema_rs
from aiohttp import web

PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
HERE = Path(__file__).parent
SPEC_FILES = [Path(os.environ.get("TWILIO_OPENAPI_SPEC", "/nonexistent")),
              HERE.parents[2] / "shared/provider-specs/twilio_api_v2010.json",
              Path("/work/shared/provider-specs/twilio_api_v2010.json")]
EXTRACT = HERE / "twilio_messages_openapi.json"
E164 = re.compile(r"^\+[1-9][0-9]{1,14}$")
MAGIC = {"+15005550001": (21211, "The 'To' number is not a valid phone number."),
         "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
         "+15005550009": (21614, "'To' number is not a valid mobile number")}


def full_spec() -> dict[str, Any] | None:
    for path in SPEC_FILES:
        if path.is_file():
            loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return loaded
    return None


def _resolve(node: Any, spec: dict[str, Any]) -> Any:
    """The schema with every local $ref replaced by what it points to."""
    if isinstance(node, dict):
        if "$ref" in node:
            target: Any = spec
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part]
            return _resolve(target, spec)
        return {key: _resolve(value, spec) for key, value in node.items()}
    if isinstance(node, list):
        return [_resolve(item, spec) for item in node]
    return node


def messages_operation(spec: dict[str, Any]) -> dict[str, Any]:
    """What the stand-in needs of the spec: the create operation's path parameters, form
    schema, security and servers, with references resolved (examples and prose dropped)."""
    item = spec["paths"][PATH]
    operation = item["post"]
    form = operation["requestBody"]["content"]["application/x-www-form-urlencoded"]["schema"]
    properties = {name: {k: v for k, v in _resolve(prop, spec).items() if k != "description"}
                  for name, prop in form["properties"].items()}
    return {
        "source": "twilio/twilio-oai spec/json/twilio_api_v2010.json, "
                  "d50069b44ea8cd23141385bdb6db48f16ff75bb5",
        "path": PATH, "servers": item.get("servers", []),
        "security": operation.get("security", spec.get("security")),
        "security_schemes": spec["components"]["securitySchemes"],
        "media_types": sorted(operation["requestBody"]["content"]),
        "path_parameters": {p["name"]: p["schema"] for p in operation["parameters"]
                            if p["in"] == "path"},
        "form": {"type": "object", "required": form.get("required", []),
                 "properties": properties},
        "responses": sorted(operation["responses"]),
    }


def load_operation() -> dict[str, Any]:
    spec = full_spec()
    if spec is not None:
        return messages_operation(spec)
    extracted: dict[str, Any] = json.loads(EXTRACT.read_text(encoding="utf-8"))
    return extracted


def typed_form(pairs: list[tuple[str, str]], schema: dict[str, Any]) -> dict[str, Any]:
    """The posted form as the values its schema types say (form fields are all text)."""
    typed: dict[str, Any] = {}
    for name, value in pairs:
        kind = schema["properties"].get(name, {}).get("type", "string")
        if kind == "array":
            typed.setdefault(name, []).append(value)
            continue
        converted: Any = value
        if kind == "boolean" and value in ("true", "false"):
            converted = value == "true"
        elif kind == "integer" and re.fullmatch(r"-?[0-9]+", value):
            converted = int(value)
        elif kind == "number":
            try:
                converted = float(value)
            except ValueError:
                pass
        if name in typed:
            typed[name] = [typed[name], converted]  # a scalar sent twice: the schema refuses
        else:
            typed[name] = converted
    return typed


def form_violations(pairs: list[tuple[str, str]], operation: dict[str, Any]) -> list[str]:
    schema = {**operation["form"], "additionalProperties": False}
    validator = jsonschema_rs.validator_for(
        schema, validate_formats=True,
        formats={"phone-number": lambda value: bool(E164.match(value))})
    found = [f"{'/'.join(map(str, error.instance_path)) or 'form'}: {error.message}"
             for error in validator.iter_errors(typed_form(pairs, schema))]
    names = {name for name, _ in pairs}
    if not names & {"From", "MessagingServiceSid"}:
        found.append("form: a sender is required: From or MessagingServiceSid")
    if not names & {"Body", "MediaUrl", "ContentSid"}:
        found.append("form: content is required: Body, MediaUrl or ContentSid")
    return found


def twilio_error(status: int, code: int, message: str) -> web.Response:
    return web.json_response({"code": code, "message": message, "status": status,
                              "more_info": f"https://www.twilio.com/docs/errors/{code}"},
                             status=status)


@dataclass
class TwilioStandIn:
    auth_token: str
    operation: dict[str, Any] = field(default_factory=load_operation)
    violations: list[str] = field(default_factory=list)
    created: list[dict[str, Any]] = field(default_factory=list)  # each message's form
    fail_next: list[int] = field(default_factory=list)  # statuses to answer before any check

    def application(self) -> web.Application:
        app = web.Application()
        app.router.add_post(self.operation["path"], self.create_message)
        return app

    async def create_message(self, request: web.Request) -> web.Response:
        if self.fail_next:
            status = self.fail_next.pop(0)
            return twilio_error(status, 20429 if status == 429 else 20500,
                                "Too Many Requests" if status == 429 else "Internal error")
        account_sid = request.match_info["AccountSid"]
        sid_schema = self.operation["path_parameters"]["AccountSid"]
        if not jsonschema_rs.validator_for(sid_schema).is_valid(account_sid):
            self.violations.append(f"AccountSid {account_sid!r} breaks {sid_schema}")
            return twilio_error(404, 20404, "The requested resource was not found")
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        expected = base64.b64encode(f"{account_sid}:{self.auth_token}".encode()).decode()
        assert self.operation["security_schemes"]["accountSid_authToken"]["scheme"] == "basic"
        if scheme != "Basic" or credentials != expected:
            self.violations.append("no Basic authorization with the AccountSid and auth token")
            return twilio_error(401, 20003, "Authenticate")
        media = request.headers.get("Content-Type", "").partition(";")[0].strip()
        if media not in self.operation["media_types"]:
            self.violations.append(f"media type {media!r} is not the spec's")
            return twilio_error(400, 20001, "Unsupported media type")
        pairs = parse_qsl((await request.read()).decode("utf-8"), keep_blank_values=True)
        problems = form_violations(pairs, self.operation)
        if problems:
            self.violations.extend(problems)
            return twilio_error(400, 21604, "; ".join(problems))
        form = dict(pairs)
        if form["To"] in MAGIC:
            code, message = MAGIC[form["To"]]
            return twilio_error(400, code, message)
        self.created.append(form)
        sid = "SM" + uuid.uuid4().hex
        now = "Wed, 02 Dec 2026 15:00:00 +0000"
        return web.json_response({
            "account_sid": account_sid, "api_version": "2010-04-01", "body": form["Body"],
            "date_created": now, "date_sent": None, "date_updated": now,
            "direction": "outbound-api", "error_code": None, "error_message": None,
            "from": form.get("From"), "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0", "num_segments": "1", "price": None, "price_unit": None,
            "sid": sid, "status": "queued", "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}.json",
            "subresource_uris": {
                "media": f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}/Media.json"},
        }, status=201)
