"""Envelope encryption and blind indexes for Korean CI/DI."""

from __future__ import annotations

import base64
import re

import pytest

from adapters.crypto import EnvelopeCipher, derive_key
from adapters.crypto import b64 as _b64
from adapters.crypto import unb64 as _unb64
from domain.errors import DomainError

K1, K2 = b"1" * 32, b"2" * 32
INDEX_KEY = b"i" * 32
CI = base64.b64encode(b"\x07" * 64).decode()  # shaped like a real CI: 88 characters


def cipher(current: str = "k1", **keys: bytes) -> EnvelopeCipher:
    return EnvelopeCipher(keys or {"k1": K1}, current, INDEX_KEY)


def test_seal_then_open_gives_the_value_back_and_hides_it() -> None:
    c = cipher()
    sealed = c.seal(CI, context="cus_1")
    assert CI not in sealed
    version, key_id, wrapped, body = sealed.split(".")
    assert (version, key_id) == ("v1", "k1") and wrapped and body
    assert c.key_id_of(sealed) == "k1"
    assert c.open(sealed, context="cus_1") == CI
    # Each seal uses its own data key and nonces: the same value never seals the same way.
    assert c.seal(CI, context="cus_1") != sealed


def test_another_context_cannot_open_it() -> None:
    c = cipher()
    sealed = c.seal(CI, context="cus_1")
    with pytest.raises(DomainError):
        c.open(sealed, context="cus_2")
    with pytest.raises(DomainError):
        c.open(sealed, context="")


@pytest.mark.parametrize("part", [2, 3])
def test_tampering_is_detected(part: int) -> None:
    c = cipher()
    sealed = c.seal(CI, context="cus_1")
    pieces = sealed.split(".")
    raw = bytearray(_unb64(pieces[part]))
    raw[-1] ^= 0x01
    pieces[part] = _b64(bytes(raw))
    with pytest.raises(DomainError):
        c.open(".".join(pieces), context="cus_1")


def test_a_sealed_value_moved_to_another_key_id_is_refused() -> None:
    c = cipher("k1", k1=K1, k2=K2)
    pieces = c.seal(CI, context="cus_1").split(".")
    pieces[1] = "k2"  # the key id is bound to the wrapped data key
    with pytest.raises(DomainError):
        c.open(".".join(pieces), context="cus_1")


@pytest.mark.parametrize("sealed", ["", "garbage", "v1.k1.only-three", "v2.k1.YQ.YQ",
                                    "v1.k1.!!!.###"])
def test_malformed_values_are_refused(sealed: str) -> None:
    with pytest.raises(DomainError):
        cipher().open(sealed, context="cus_1")


def test_an_unknown_key_id_is_refused() -> None:
    old = cipher("k2", k1=K1, k2=K2)
    sealed = old.seal(CI, context="cus_1")
    without_k2 = cipher("k1", k1=K1)
    with pytest.raises(DomainError):
        without_k2.open(sealed, context="cus_1")
    # The same id with other key material is no better.
    with pytest.raises(DomainError):
        cipher("k2", k1=K1, k2=b"3" * 32).open(sealed, context="cus_1")


def test_rewrap_seals_under_the_current_key_and_old_ids_keep_opening() -> None:
    before = cipher("k1", k1=K1)
    sealed = before.seal(CI, context="cus_1")
    after = cipher("k2", k1=K1, k2=K2)
    assert after.current_key_id == "k2"
    assert after.open(sealed, context="cus_1") == CI  # the old id still decrypts
    rewrapped = after.rewrap(sealed, context="cus_1")
    assert after.key_id_of(rewrapped) == "k2"
    assert after.open(rewrapped, context="cus_1") == CI
    # Once re-sealed, the old master key is no longer needed.
    assert cipher("k2", k2=K2).open(rewrapped, context="cus_1") == CI
    with pytest.raises(DomainError):
        before.open(rewrapped, context="cus_1")
    # Rewrapping is bound to the context too.
    with pytest.raises(DomainError):
        after.rewrap(sealed, context="cus_2")


def test_blind_index_is_stable_keyed_and_per_purpose() -> None:
    di = "a" * 64
    index = cipher().blind_index(di, "kr-di")
    assert re.fullmatch(r"[0-9a-f]{64}", index)
    assert di not in index
    assert cipher("k2", k2=K2).blind_index(di, "kr-di") == index  # master keys do not matter
    assert cipher().blind_index(f"  {di}\n", "kr-di") == index  # surrounding blanks ignored
    assert cipher().blind_index("b" * 64, "kr-di") != index
    assert cipher().blind_index(di, "other") != index
    other_key = EnvelopeCipher({"k1": K1}, "k1", b"j" * 32)
    assert other_key.blind_index(di, "kr-di") != index


def test_bad_configurations_are_refused() -> None:
    with pytest.raises(ValueError, match="current data key"):
        EnvelopeCipher({"k1": K1}, "k2", INDEX_KEY)
    with pytest.raises(ValueError, match="32 bytes"):
        EnvelopeCipher({"k1": b"short"}, "k1", INDEX_KEY)
    with pytest.raises(ValueError, match="without dots"):
        EnvelopeCipher({"k.1": K1}, "k.1", INDEX_KEY)


def test_derived_keys_are_32_bytes_and_differ_by_purpose() -> None:
    assert len(derive_key("secret", "data-key")) == 32
    assert derive_key("secret", "data-key") == derive_key("secret", "data-key")
    assert derive_key("secret", "data-key") != derive_key("secret", "blind-index")
    assert derive_key("secret", "data-key") != derive_key("other", "data-key")
