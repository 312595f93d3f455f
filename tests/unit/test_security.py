"""Password hashing (argon2id) and access tokens (HS256 JWT)."""

from __future__ import annotations

import asyncio
import os
import sys
import threading

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from adapters.security import Argon2PasswordHasher, JwtTokenIssuer
from domain.customers import Customer, Role
from domain.errors import Unauthorized
from tests.fakes import START, FakeClock

PASSWORD = "correct horse battery staple"
SECRET = "test-jwt-secret-0123456789abcdef-0123456789"
OTHER_SECRET = "another-jwt-secret-0123456789abcdef-01234"
NOW = int(START.timestamp())  # where a FakeClock starts


@pytest.fixture(scope="module")
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher()


@pytest.fixture(scope="module")
def password_hash(hasher: Argon2PasswordHasher) -> str:
    return asyncio.run(hasher.hash(PASSWORD))


def customer(role: Role = Role.CUSTOMER) -> Customer:
    return Customer(id="c-42", email="alice@example.com", password_hash="h", role=role)


# --- Argon2PasswordHasher ---------------------------------------------------------------------

async def test_hash_is_argon2id_and_salted(hasher: Argon2PasswordHasher,
                                           password_hash: str) -> None:
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert await hasher.hash(PASSWORD) != password_hash


async def test_verify_correct_password(hasher: Argon2PasswordHasher, password_hash: str) -> None:
    assert await hasher.verify(password_hash, PASSWORD) is True


@pytest.mark.parametrize("wrong", ["correct horse battery stapl", "", PASSWORD.upper()])
async def test_verify_wrong_password(
    hasher: Argon2PasswordHasher, password_hash: str, wrong: str
) -> None:
    assert await hasher.verify(password_hash, wrong) is False


@pytest.mark.parametrize(
    "garbage", ["", "garbage", "$argon2id$", "$argon2id$v=19$m=65536,t=3,p=4$bad$bad",
                "$2b$12$abcdefghijklmnopqrstuv"]
)
async def test_verify_garbage_hash(hasher: Argon2PasswordHasher, garbage: str) -> None:
    assert await hasher.verify(garbage, PASSWORD) is False


async def test_password_checks_leave_the_event_loop_running(password_hash: str) -> None:
    """A ticker on the loop keeps ticking while four checks run; on the loop itself it
    would get one tick in between checks at most."""
    hasher = Argon2PasswordHasher(concurrency=2)
    ticks = 0
    done = asyncio.Event()

    async def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.005)

    ticking = asyncio.create_task(ticker())
    await asyncio.sleep(0)  # the ticker's first tick
    started = ticks
    results = await asyncio.gather(*(hasher.verify(password_hash, wrong)
                                     for wrong in ("a", "b", "c", "d")))
    during = ticks - started
    done.set()
    await ticking
    assert results == [False] * 4
    assert during >= 12, f"the loop ticked only {during} times during four argon2 checks"


async def test_no_more_checks_run_at_once_than_the_cap(password_hash: str) -> None:
    hasher = Argon2PasswordHasher(concurrency=2)
    inner = hasher._hasher
    running, most = 0, 0
    lock = threading.Lock()

    class Counting:
        def verify(self, stored: str, password: str) -> bool:
            nonlocal running, most
            with lock:
                running += 1
                most = max(most, running)
            try:
                return inner.verify(stored, password)
            finally:
                with lock:
                    running -= 1

    hasher._hasher = Counting()  # type: ignore[assignment]
    await asyncio.gather(*(hasher.verify(password_hash, PASSWORD) for _ in range(6)))
    assert most == 2


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
async def test_hashing_threads_give_the_cpu_to_the_loop_first() -> None:
    hasher = Argon2PasswordHasher(concurrency=1)
    thread_nice = await asyncio.get_running_loop().run_in_executor(
        hasher._pool, lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
    assert thread_nice == 19  # the lowest priority there is


# --- JwtTokenIssuer ---------------------------------------------------------------------------

def test_issue_and_subject_roundtrip() -> None:
    issuer = JwtTokenIssuer(SECRET, 900, FakeClock())
    token, lifetime = issuer.issue(customer())
    assert lifetime == 900
    assert token.count(".") == 2
    assert issuer.subject(token) == "c-42"


def test_issued_claims() -> None:
    token, _ = JwtTokenIssuer(SECRET, 900, FakeClock()).issue(customer(Role.ADMIN))
    claims = jwt.decode(token, OctKey.import_key(SECRET.encode()), algorithms=["HS256"]).claims
    assert claims["iss"] == "mall-integrations"
    assert claims["aud"] == "storefront"
    assert claims["sub"] == "c-42"
    assert claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 900
    assert claims["iat"] == NOW  # the injected clock's time
    other, _ = JwtTokenIssuer(SECRET, 900, FakeClock()).issue(customer())
    assert jwt.decode(other, OctKey.import_key(SECRET.encode())).claims["jti"] != claims["jti"]


def test_token_signed_with_another_secret_is_refused() -> None:
    token, _ = JwtTokenIssuer(OTHER_SECRET, 900, FakeClock()).issue(customer())
    with pytest.raises(Unauthorized):
        JwtTokenIssuer(SECRET, 900, FakeClock()).subject(token)


def test_expired_token_is_refused() -> None:
    issuer = JwtTokenIssuer(SECRET, -1, FakeClock())
    token, _ = issuer.issue(customer())
    with pytest.raises(Unauthorized) as raised:
        issuer.subject(token)
    assert raised.value.code == "unauthorized"


def test_a_token_expires_when_the_injected_clock_passes_its_lifetime() -> None:
    clock = FakeClock()
    issuer = JwtTokenIssuer(SECRET, 900, clock)
    token, _ = issuer.issue(customer())
    clock.advance(seconds=899)
    assert issuer.subject(token) == "c-42"
    clock.advance(seconds=2)
    with pytest.raises(Unauthorized):
        issuer.subject(token)


def craft(claims: dict[str, object], secret: str = SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))


def valid_claims(**overrides: object) -> dict[str, object]:
    claims: dict[str, object] = {"iss": "mall-integrations", "aud": "storefront", "sub": "c-42",
                                 "iat": NOW, "exp": NOW + 60}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_crafted_valid_token_is_accepted() -> None:
    assert JwtTokenIssuer(SECRET, 900, FakeClock()).subject(craft(valid_claims())) == "c-42"


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": NOW - 3600},
        {"exp": None},
        {"sub": None},
        {"iss": "someone-else"},
        {"aud": "other-audience"},
        {"aud": None},
    ],
    ids=["expired", "no-exp", "no-sub", "wrong-iss", "wrong-aud", "no-aud"],
)
def test_crafted_bad_claims_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(Unauthorized):
        JwtTokenIssuer(SECRET, 900, FakeClock()).subject(craft(valid_claims(**overrides)))


def test_unsigned_token_is_refused() -> None:
    token = craft(valid_claims())
    header_payload = token.rsplit(".", 1)[0]
    with pytest.raises(Unauthorized):
        JwtTokenIssuer(SECRET, 900, FakeClock()).subject(header_payload + ".")


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "a.b", "é.é.é", "...."])
def test_garbage_token_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthorized, match="sign in again"):
        JwtTokenIssuer(SECRET, 900, FakeClock()).subject(garbage)
