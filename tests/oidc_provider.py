"""A real OpenID provider for the tests: `oidc-provider` (Node) in a subprocess, browser-less.

`tests/oidc/server.mjs` signs in whoever `login_hint` names and grants the requested scopes at
once, so `sign_in` goes from an authorization URL to the callback parameters with plain HTTP:

    with start_oidc_provider([{"client_id": "c", "client_secret": "s",
                               "redirect_uris": ["http://127.0.0.1:18790/cb"]}]) as op:
        params = await sign_in(authorization_url, login="ada@example.com")
        # {"code": ..., "state": ..., "iss": op.issuer}

Accounts: sub = "sub-" + login; email = login (or login@example.test without "@"), except
that `unverified+<email>` claims <email>; email_verified unless the login starts with
"unverified"; the login "deny" refuses (error=access_denied at the redirect_uri). See
tests/oidc/README.md.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import aiohttp

OIDC_DIR = Path(__file__).resolve().parent / "oidc"
SERVER = OIDC_DIR / "server.mjs"
NPM_CI_TIMEOUT = 300.0
START_TIMEOUT = 30.0

MALL_TEST_CLIENT_ID = "mall-test"
MALL_TEST_CLIENT_SECRET = "mall-test-secret"
MALL_TEST_REDIRECT_URI = "http://127.0.0.1:18790/v1/auth/oidc/callback"
# Extra redirect URIs for the session's `mall-test` client: whitespace- or comma-separated.
REDIRECT_URIS_ENV = "MALL_TEST_OIDC_REDIRECT_URIS"
# Fixed port for the session's provider (default: any free port).
PORT_ENV = "MALL_TEST_OIDC_PORT"

_unavailable_reason: str | None = None


class OidcProviderError(RuntimeError):
    """The test OpenID provider could not be started."""


class SignInError(AssertionError):
    """The provider answered something other than a redirect before reaching the redirect_uri."""

    def __init__(self, message: str, *, status: int, url: str, body: str) -> None:
        super().__init__(f"{message} (HTTP {status} at {url}): {body[:500]}")
        self.status = status
        self.url = url
        self.body = body


@functools.cache
def node_available() -> bool:
    """Whether `node` is on PATH and oidc-provider is installed (running `npm ci` once if not).

    The answer is computed once per process; `unavailable_reason()` says why it is False.
    """
    global _unavailable_reason
    if shutil.which("node") is None:
        _unavailable_reason = "node is not on PATH"
        return False
    if (OIDC_DIR / "node_modules" / "oidc-provider" / "package.json").is_file():
        return True
    npm = shutil.which("npm")
    if npm is None:
        _unavailable_reason = ("tests/oidc/node_modules is missing and npm is not on PATH "
                               "(run `npm ci --prefix tests/oidc`)")
        return False
    try:
        done = subprocess.run(
            [npm, "ci", "--prefix", str(OIDC_DIR), "--no-audit", "--no-fund"],
            capture_output=True, text=True, timeout=NPM_CI_TIMEOUT, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        _unavailable_reason = f"`npm ci --prefix tests/oidc` failed: {exc}"
        return False
    if done.returncode != 0 or not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        _unavailable_reason = (f"`npm ci --prefix tests/oidc` exited {done.returncode}: "
                               + " | ".join(tail))
        return False
    return True


def unavailable_reason() -> str:
    """Why `node_available()` said False ("" when it did not)."""
    node_available()
    return _unavailable_reason or ""


def _under_issuer(path: str) -> property:
    """A read-only attribute: the provider's URL for `path` (oidc-provider's routes)."""
    return property(lambda self: f"{self.issuer}{path}")


class OidcProviderProcess:
    """A running `tests/oidc/server.mjs`; a (sync or async) context manager that stops it."""

    def __init__(self, process: subprocess.Popen[str], issuer: str,
                 clients: list[dict[str, Any]], output: collections.deque[str],
                 readers: list[threading.Thread]) -> None:
        self.process = process
        self.issuer = issuer
        self.clients = clients
        self._output = output
        self._readers = readers

    @property
    def port(self) -> int:
        port = urlsplit(self.issuer).port
        assert port is not None
        return port

    discovery_url = _under_issuer("/.well-known/openid-configuration")
    authorization_endpoint = _under_issuer("/auth")
    token_endpoint = _under_issuer("/token")
    jwks_uri = _under_issuer("/jwks")

    def output(self) -> str:
        """The provider's recent stdout and stderr lines (for failure messages)."""
        return "".join(self._output)

    def running(self) -> bool:
        return self.process.poll() is None

    async def rotate_keys(self, *, drop_old: bool = False) -> str:
        """Sign ID tokens with a fresh RSA key from now on; return its kid.

        The previous keys stay in the JWKS unless `drop_old`. Sessions, codes and tokens
        issued before survive (the provider's in-memory storage is shared).
        """
        url = f"{self.issuer}/_harness/rotate" + ("?drop=1" if drop_old else "")
        async with aiohttp.ClientSession() as http, http.post(url) as response:
            body = await response.json()
            assert response.status == 200, body
            return str(body["kid"])

    def stop(self, timeout: float = 5.0) -> None:
        """Terminate the provider, then kill it if it has not exited after `timeout`."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout)
        for reader in self._readers:  # they stop at EOF, now that the process has exited
            reader.join(timeout=timeout)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def __enter__(self) -> OidcProviderProcess:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> OidcProviderProcess:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        self.stop()


def _drain(stream: IO[str], output: collections.deque[str]) -> None:
    for line in stream:
        output.append(line)


def start_oidc_provider(clients: list[dict[str, Any]], port: int | None = None, *,
                        jwks: dict[str, Any] | None = None, code_ttl: int | None = None,
                        id_token_algs: list[str] | None = None,
                        timeout: float = START_TIMEOUT) -> OidcProviderProcess:
    """Launch `node tests/oidc/server.mjs` and wait for it to listen.

    `clients`: [{"client_id", "client_secret", "redirect_uris": [...]}, ...] (other client
    metadata passes through to oidc-provider). `port`: None picks a free one. `jwks`: optional
    {"keys": [private RSA JWKs]} (the first signs; default: one key generated at start).
    `code_ttl`: authorization code lifetime in seconds (default 60). `id_token_algs`: the ID
    token algorithms offered (default ["RS256"]; RS256 plus any of PS256, ES256); a client
    chooses one with its `id_token_signed_response_alg` metadata.

    Blocks until the provider prints READY (a fraction of a second), so call it from a sync
    fixture or accept the short block in an async one. Use the result as a context manager,
    or call `.stop()`.
    """
    if not node_available():
        raise OidcProviderError(f"the test OpenID provider cannot run: {unavailable_reason()}")
    env = {**os.environ, "PORT": str(port or 0), "CLIENTS": json.dumps(clients)}
    if jwks is not None:
        env["JWKS"] = json.dumps(jwks)
    if code_ttl is not None:
        env["CODE_TTL"] = str(code_ttl)
    if id_token_algs is not None:
        env["ID_TOKEN_ALGS"] = json.dumps(id_token_algs)
    node = shutil.which("node") or "node"
    process = subprocess.Popen(
        [node, str(SERVER)], cwd=OIDC_DIR, env=env, text=True,
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    output: collections.deque[str] = collections.deque(maxlen=200)
    ready: list[str] = []

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            output.append(line)
            if not ready and line.startswith("READY "):
                ready.append(line.split(" ", 1)[1].strip())

    readers = [threading.Thread(target=_drain, args=(process.stderr, output), daemon=True),
               threading.Thread(target=read_stdout, daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + timeout
    while not ready:
        if process.poll() is not None or time.monotonic() > deadline:
            what = (f"exited with code {process.returncode}" if process.poll() is not None
                    else f"did not print READY within {timeout:g}s")
            stopped = OidcProviderProcess(process, "", clients, output, readers)
            stopped.stop()
            raise OidcProviderError(f"the test OpenID provider {what}:\n{stopped.output()}")
        time.sleep(0.01)
    return OidcProviderProcess(process, ready[0], clients, output, readers)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _with_login_hint(url: str, login: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(name == "login_hint" for name, _ in query):
        return url
    return urlunsplit(parts._replace(query=urlencode([*query, ("login_hint", login)])))


class _AutoSubmitForm(HTMLParser):
    """The first <form> of a page and its named inputs (oidc-provider's auto-submitting forms)."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.method = "get"
        self.fields: list[tuple[str, str]] = []
        self._in_form = False
        self._done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form" and not self._done and self.action is None:
            self.action = attributes.get("action", "")
            self.method = attributes.get("method", "get").lower()
            self._in_form = True
        elif tag == "input" and self._in_form and attributes.get("name"):
            self.fields.append((attributes["name"], attributes.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._in_form:
            self._in_form = False
            self._done = True


def _auto_submit_form(page: str) -> _AutoSubmitForm | None:
    if "document.forms[0].submit()" not in page:
        return None
    form = _AutoSubmitForm()
    form.feed(page)
    return form if form.action is not None else None


async def sign_in(authorization_url: str, *, login: str,
                  session: aiohttp.ClientSession | None = None,
                  max_steps: int = 10) -> dict[str, str]:
    """Follow the provider's redirects from `authorization_url` as `login`.

    Adds `login_hint=<login>` unless the URL already has a login_hint, follows redirects
    while they stay on the provider's origin, and returns the query parameters of the first
    redirect that leaves it (the redirect_uri), without requesting it: {"code", "state",
    "iss"} on success, {"error", "error_description", "state", "iss"} on refusal.

    Like a browser, it submits the provider's auto-submitting forms: the one that ends the
    session of another account before signing in as `login`, and, with
    response_mode=form_post, returns the fields of the form aimed at the redirect_uri.

    Pass `session` to keep the provider's session cookies across sign-ins (its cookie jar
    needs `unsafe=True`: the provider's host is an IP address); by default every call starts
    a fresh session. Raises SignInError when the provider answers anything else.
    """
    own_session = session is None
    http = session or aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    issuer_origin = _origin(authorization_url)
    method, url = "GET", _with_login_hint(authorization_url, login)
    data: list[tuple[str, str]] | None = None
    try:
        for _ in range(max_steps):
            async with http.request(method, url, data=data, allow_redirects=False) as response:
                location = response.headers.get("Location")
                body = "" if location else await response.text()
                status = response.status
            if status in (301, 302, 303, 307, 308) and location:
                method, data, url = "GET", None, urljoin(url, location)
                fields = list(parse_qsl(urlsplit(url).query, keep_blank_values=True))
                if not fields:
                    fields = parse_qsl(urlsplit(url).fragment, keep_blank_values=True)
            elif status == 200 and (form := _auto_submit_form(body)) is not None:
                url = urljoin(url, form.action or "")
                method = "POST" if form.method == "post" else "GET"
                fields = form.fields
                data = fields if method == "POST" else None
            else:
                raise SignInError("the OpenID provider neither redirected nor posted a form",
                                  status=status, url=url, body=body)
            if _origin(url) != issuer_origin:
                return dict(fields)
        raise SignInError(f"more than {max_steps} steps on the OpenID provider",
                          status=0, url=url, body="")
    finally:
        if own_session:
            await http.close()


def mall_test_clients() -> list[dict[str, Any]]:
    """The `mall-test` client: its callback on 127.0.0.1:18790 plus any from the env."""
    extra = os.environ.get(REDIRECT_URIS_ENV, "").replace(",", " ").split()
    redirect_uris = [MALL_TEST_REDIRECT_URI, *(u for u in extra if u != MALL_TEST_REDIRECT_URI)]
    return [{"client_id": MALL_TEST_CLIENT_ID, "client_secret": MALL_TEST_CLIENT_SECRET,
             "redirect_uris": redirect_uris}]


def services_required() -> bool:
    """CI=true or MALL_REQUIRE_SERVICES=1: a missing service fails the run (as in
    tests/conftest.py for PostgreSQL and Redis) instead of skipping."""
    return os.environ.get("CI") == "true" or os.environ.get("MALL_REQUIRE_SERVICES") == "1"


def require_node() -> None:
    """Skip the current test when the test OpenID provider cannot run here; under CI=true or
    MALL_REQUIRE_SERVICES=1, fail it instead."""
    import pytest

    if not node_available():
        message = f"the test OpenID provider needs Node.js: {unavailable_reason()}"
        if services_required():
            pytest.fail(f"{message}, and CI requires it")
        pytest.skip(message)


def provide_oidc_provider() -> Iterator[OidcProviderProcess]:
    """Body of a session-scoped pytest fixture: one provider with the `mall-test` client.

    Skips the requesting test when Node (or oidc-provider) is not available. Use as
    `yield from provide_oidc_provider()` in a fixture (see tests/integration/conftest.py).
    """
    require_node()
    port = int(os.environ[PORT_ENV]) if os.environ.get(PORT_ENV) else None
    with start_oidc_provider(mall_test_clients(), port=port) as provider:
        yield provider
