"""Evidence checkpoints outside the database: an append-only JSON-lines file, and the key ring
that signs them, built from the settings.

The file is only ever opened for appending, one line per checkpoint, so a process that can
write the database still cannot rewrite what the file vouches for. Put it on storage the
database's users cannot reach (another volume, a write-once mount, or a log shipper that
forwards each line); every checkpoint is also written to the log.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path

from adapters.crypto import derive_key
from domain.evidence import Checkpoint, CheckpointKeys


class FileCheckpointStore:
    """The CheckpointStore port on a local file: one JSON object per line, appended."""

    def __init__(self, path: str) -> None:
        self._path = Path(path)

    @property
    def path(self) -> Path:
        return self._path

    async def append(self, checkpoint: Checkpoint) -> None:
        await asyncio.to_thread(self._append, (checkpoint.to_line() + "\n").encode())

    def _append(self, line: bytes) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # O_APPEND: every write lands at the end, whoever else appends; one write per line
        # keeps lines from two processes whole.
        fd = os.open(self._path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    async def last_seq(self) -> int:
        """The sequence number the newest checkpoint vouches for (0: none yet)."""
        return await asyncio.to_thread(self._last_seq)

    def _last_seq(self) -> int:
        try:
            with self._path.open("rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 4096))
                lines = file.read().splitlines()
        except FileNotFoundError:
            return 0
        for line in reversed(lines):
            try:
                return int(json.loads(line)["seq"])
            except (ValueError, KeyError, TypeError):
                continue  # a torn or foreign line
        return 0

    async def read(self) -> list[str]:
        return await asyncio.to_thread(self._read)

    def _read(self) -> list[str]:
        try:
            return self._path.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []


def checkpoint_keys(keys: Mapping[str, str], key_id: str, secret: str) -> CheckpointKeys:
    """The ring from MALL_EVIDENCE_CHECKPOINT_KEYS (base64 keys by id; MALL_EVIDENCE_CHECKPOINT_
    KEY_ID, else the first, signs), or one key derived from MALL_SECRET_KEY (embedded mode)."""
    if not keys:
        derived = derive_key(secret, "evidence-checkpoint")
        # The id names the key, so checkpoints signed before the secret changed are reported
        # as signed by a key no longer configured rather than as forged.
        derived_id = "derived-" + hashlib.sha256(derived).hexdigest()[:12]
        return CheckpointKeys({derived_id: derived}, derived_id)
    decoded: dict[str, bytes] = {}
    for kid, value in keys.items():
        try:
            decoded[kid] = base64.b64decode(value, validate=True)
        except ValueError:
            raise ValueError(f"MALL_EVIDENCE_CHECKPOINT_KEYS: key {kid!r} is not base64") from None
    try:
        return CheckpointKeys(decoded, key_id or next(iter(decoded)))
    except ValueError as exc:
        raise ValueError(f"MALL_EVIDENCE_CHECKPOINT_KEYS: {exc}") from None
