"""Envelope encryption and blind indexes for the most sensitive identifiers (Korean CI/DI).

Each value is encrypted with its own random data key (AES-256-GCM); the data key is wrapped by
a master key named by its key id, which is stored beside the ciphertext. Rotating the master
key is adding a new id, making it current, and re-wrapping at leisure; old ids keep
decrypting. A blind index is a keyed HMAC: equal inputs give equal indexes (duplicate checks)
while the index reveals nothing without the key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.errors import DomainError

VERSION = "v1"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose from the application secret (embedded mode only;
    production configures its own master keys)."""
    return HKDF(algorithm=SHA256(), length=32, salt=None,
                info=f"mall:{purpose}".encode()).derive(secret.encode())


class EnvelopeCipher:
    def __init__(self, master_keys: Mapping[str, bytes], current_key_id: str,
                 index_key: bytes) -> None:
        if current_key_id not in master_keys:
            raise ValueError(f"the current data key id {current_key_id!r} has no key")
        for key_id, key in master_keys.items():
            if len(key) != 32 or "." in key_id:
                raise ValueError(f"data key {key_id!r} must be 32 bytes, its id without dots")
        self._keys = dict(master_keys)
        self._current = current_key_id
        self._index_key = index_key

    @property
    def current_key_id(self) -> str:
        return self._current

    def seal(self, plaintext: str, context: str) -> str:
        """Encrypt `plaintext`, bound to `context` (e.g. the customer id) as associated data."""
        data_key = AESGCM.generate_key(bit_length=256)
        nonce, wrap_nonce = os.urandom(12), os.urandom(12)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), context.encode())
        wrapped = AESGCM(self._keys[self._current]).encrypt(
            wrap_nonce, data_key, f"{VERSION}.{self._current}".encode())
        return ".".join([VERSION, self._current, b64(wrap_nonce + wrapped),
                         b64(nonce + ciphertext)])

    def open(self, sealed: str, context: str) -> str:
        try:
            version, key_id, wrapped, body = sealed.split(".")
            if version != VERSION or key_id not in self._keys:
                raise ValueError(f"unknown key {key_id}")
            wrapped_bytes, body_bytes = unb64(wrapped), unb64(body)
            data_key = AESGCM(self._keys[key_id]).decrypt(
                wrapped_bytes[:12], wrapped_bytes[12:], f"{version}.{key_id}".encode())
            return AESGCM(data_key).decrypt(body_bytes[:12], body_bytes[12:],
                                            context.encode()).decode()
        except (ValueError, InvalidTag) as exc:
            raise DomainError("a sealed value could not be opened (wrong key or "
                              "context, or it was altered)") from exc

    def key_id_of(self, sealed: str) -> str:
        return sealed.split(".")[1]

    def rewrap(self, sealed: str, context: str) -> str:
        """The same value sealed under the current master key (key rotation)."""
        return self.seal(self.open(sealed, context), context)

    def blind_index(self, value: str, purpose: str) -> str:
        normalized = value.strip()
        return hmac.new(self._index_key, f"{purpose}:{normalized}".encode(),
                        hashlib.sha256).hexdigest()
