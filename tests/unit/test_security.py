"""Password hashing (argon2id) and access tokens (HS256 JWT)."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from adapters.security import Argon2PasswordHasher, JwtTokenIssuer
from domain.customers import Customer, Role
from domain.errors import Unauthorized

PASSWORD = "correct horse battery staple"
SECRET = "test-jwt-secret-0123456789abcdef-0123456789"
OTHER_SECRET = "another-jwt-secret-0123456789abcdef-01234"


@pytest.fixture(scope="module")
def hasher() -> Argon2PasswordHasher:
    return Argon2PasswordHasher()


@pytest.fixture(scope="module")
def password_hash(hasher: Argon2PasswordHasher) -> str:
    return hasher.hash(PASSWORD)


def customer(role: Role = Role.CUSTOMER) -> Customer:
    return Customer(id="c-42", email="alice@example.com", password_hash="h", role=role)


# --- Argon2PasswordHasher ---------------------------------------------------------------------

def test_hash_is_argon2id_and_salted(hasher: Argon2PasswordHasher, password_hash: str) -> None:
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash
    assert hasher.hash(PASSWORD) != password_hash


def test_verify_correct_password(hasher: Argon2PasswordHasher, password_hash: str) -> None:
    assert hasher.verify(password_hash, PASSWORD) is True


@pytest.mark.parametrize("wrong", ["correct horse battery stapl", "", PASSWORD.upper()])
def test_verify_wrong_password(
    hasher: Argon2PasswordHasher, password_hash: str, wrong: str
) -> None:
    assert hasher.verify(password_hash, wrong) is False


@pytest.mark.parametrize(
    "garbage", ["", "garbage", "$argon2id$", "$argon2id$v=19$m=65536,t=3,p=4$bad$bad",
                "$2b$12$abcdefghijklmnopqrstuv"]
)
def test_verify_garbage_hash(hasher: Argon2PasswordHasher, garbage: str) -> None:
    assert hasher.verify(garbage, PASSWORD) is False


# --- JwtTokenIssuer ---------------------------------------------------------------------------

def test_issue_and_subject_roundtrip() -> None:
    issuer = JwtTokenIssuer(SECRET, 900)
    token, lifetime = issuer.issue(customer())
    assert lifetime == 900
    assert token.count(".") == 2
    assert issuer.subject(token) == "c-42"


def test_issued_claims() -> None:
    token, _ = JwtTokenIssuer(SECRET, 900).issue(customer(Role.ADMIN))
    claims = jwt.decode(token, OctKey.import_key(SECRET.encode()), algorithms=["HS256"]).claims
    assert claims["iss"] == "mall-integrations"
    assert claims["aud"] == "storefront"
    assert claims["sub"] == "c-42"
    assert claims["role"] == "admin"
    assert claims["exp"] - claims["iat"] == 900
    assert abs(claims["iat"] - time.time()) < 5
    other, _ = JwtTokenIssuer(SECRET, 900).issue(customer())
    assert jwt.decode(other, OctKey.import_key(SECRET.encode())).claims["jti"] != claims["jti"]


def test_token_signed_with_another_secret_is_refused() -> None:
    token, _ = JwtTokenIssuer(OTHER_SECRET, 900).issue(customer())
    with pytest.raises(Unauthorized):
        JwtTokenIssuer(SECRET, 900).subject(token)


def test_expired_token_is_refused() -> None:
    issuer = JwtTokenIssuer(SECRET, -1)
    token, _ = issuer.issue(customer())
    with pytest.raises(Unauthorized) as raised:
        issuer.subject(token)
    assert raised.value.status == 401


def craft(claims: dict[str, object], secret: str = SECRET) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key(secret.encode()))


def valid_claims(**overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": "mall-integrations", "aud": "storefront", "sub": "c-42",
                                 "iat": now, "exp": now + 60}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def test_crafted_valid_token_is_accepted() -> None:
    assert JwtTokenIssuer(SECRET, 900).subject(craft(valid_claims())) == "c-42"


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": int(time.time()) - 3600},
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
        JwtTokenIssuer(SECRET, 900).subject(craft(valid_claims(**overrides)))


def test_unsigned_token_is_refused() -> None:
    token = craft(valid_claims())
    header_payload = token.rsplit(".", 1)[0]
    with pytest.raises(Unauthorized):
        JwtTokenIssuer(SECRET, 900).subject(header_payload + ".")


@pytest.mark.parametrize("garbage", ["", "garbage", "a.b.c", "a.b", "é.é.é", "...."])
def test_garbage_token_is_refused(garbage: str) -> None:
    with pytest.raises(Unauthorized, match="sign in again"):
        JwtTokenIssuer(SECRET, 900).subject(garbage)
