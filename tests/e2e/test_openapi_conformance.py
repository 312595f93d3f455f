"""The OpenAPI document says what the server does: schemathesis generates requests for every
operation from the document (fixed seed) against a real `mall serve`, signed in as a customer,
as an admin and as a seller, and checks each answer: never a 5xx, and status, content type,
headers and body as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.timeout(300)
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_headers_conformance,response_schema_conformance")
SEED = "20261202"


def _post(url: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(  # noqa: S310 - the test's own server on localhost
        url, data=json.dumps(body).encode(), method="POST",
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - localhost
        return dict(json.load(response))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory,
           unused_tcp_port_factory: Any) -> Any:
    """`mall serve` on the embedded default, with a customer and an admin signed in."""
    home = tmp_path_factory.mktemp("served")
    port = unused_tcp_port_factory()
    env = {**os.environ, "MALL_PORT": str(port), "MALL_SQLITE_PATH": str(home / "m.sqlite"),
           "MALL_KEYS_FILE": str(home / "keys.json"), "MALL_REDIS_URL": "",
           "MALL_DATABASE_URL": "", "MALL_LOG_LEVEL": "WARNING",
           "MALL_VALIDATE_RESPONSES": "true"}  # an answer off its model is a 500
    subprocess.run([sys.executable, "-m", "entrypoints.cli", "create-admin", "--email",
                    "ops@example.com", "--password", "admin password 1"], env=env,
                   check=True, capture_output=True, timeout=60)
    server = subprocess.Popen([sys.executable, "-m", "entrypoints.cli", "serve"], env=env,
                              stdout=subprocess.DEVNULL, stderr=(home / "log").open("w"))
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).close()  # noqa: S310
            break
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.2)
    tokens = {}
    for role, email, password in (("customer", "shopper@example.com", "correct horse battery"),
                                  ("admin", "ops@example.com", "admin password 1")):
        if role == "customer":
            _post(f"{base}/v1/auth/register", {"email": email, "password": password})
        tokens[role] = _post(f"{base}/v1/auth/login",
                             {"email": email, "password": password})["access_token"]
    tokens["seller"] = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "seller-key", "seller-a"], env=env,
        check=True, capture_output=True, text=True, timeout=60).stdout.strip()
    yield base, tokens, home
    server.terminate()
    server.wait(timeout=30)


def _schemathesis(base: str, token: str, home: Path, *selection: str) -> None:
    run = subprocess.run(
        [str(Path(sys.executable).with_name("schemathesis")), "run",
         f"{base}/v1/openapi.json", "-H", f"Authorization: Bearer {token}",
         "--checks", CHECKS, "--seed", SEED, "--max-examples", "10",
         "--phases", "examples,coverage,fuzzing", "--generation-database", "none",
         "--no-color", "--workers", "2", *selection],
        capture_output=True, text=True, timeout=240, cwd=home)
    assert run.returncode == 0, run.stdout[-6000:]
    assert " passed" in run.stdout


@pytest.mark.parametrize(("role", "selection"), [
    # Signing out ends the session the other operations use: it runs on its own.
    ("customer", ("--exclude-path-regex", "^/v1/(admin|seller)/", "--exclude-path",
                  "/v1/auth/logout")),
    ("admin", ("--include-path-regex", "^/v1/admin/")),
    ("seller", ("--include-path-regex", "^/v1/seller/")),
    ("customer", ("--include-path", "/v1/auth/logout")),
])
def test_every_operation_answers_as_documented(served: Any, role: str,
                                               selection: tuple[str, ...]) -> None:
    base, tokens, home = served
    _schemathesis(base, tokens[role], home, *selection)
