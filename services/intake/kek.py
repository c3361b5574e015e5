"""The key-encryption key (KEK): what wraps every case key before it reaches the key store.

The key store holds only wrapped case keys, each with the id of the KEK that wrapped it, so a copy of
the key store (a stolen file, a database dump, a backup, a PostgreSQL WAL archive) decrypts nothing
without the KEK, which never sits beside the data.

A provider is anything with ``key_id``, ``wrap`` and ``unwrap`` (``KeyEncryptionKey``). The one here
reads a file (``SHAKTI_KEK_FILE``: 32 random bytes, base64 on one line, mode 0600, written by
``shakti keys init``). A KMS plugs in the same way: a class whose ``wrap`` calls the KMS's encrypt
(or a data-key wrap) with the case id as encryption context / associated data, whose ``unwrap`` calls
its decrypt, and whose ``key_id`` names the KMS key version; ``KekRing`` then holds it instead of a
``FileKek``. The methods are coroutines for that reason: a KMS answers over the network.

Rotation: a ring holds the current KEK (it wraps every new key) and may hold a previous one (it only
unwraps), so that ``shakti keys rotate-kek`` can re-wrap every key while the platform runs.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from shared.settings import Settings

KEK_BYTES = 32
NONCE_BYTES = 12


class KekUnavailable(RuntimeError):
    """The KEK is missing, malformed or readable by others: intake must not start (bilingual)."""

    def __init__(self, en: str, hi: str) -> None:
        super().__init__(f"{en}\n{hi}")
        self.en, self.hi = en, hi


class KekMissing(RuntimeError):
    """A key in the store was wrapped by a KEK this process does not hold."""


@runtime_checkable
class KeyEncryptionKey(Protocol):
    @property
    def key_id(self) -> str: ...

    async def wrap(self, case_key: bytes, case_id: str) -> bytes: ...

    async def unwrap(self, wrapped: bytes, case_id: str) -> bytes: ...


def kek_id(raw: bytes) -> str:
    """A KEK's id: the first 16 hex digits of sha256 of its bytes (the id names it, never reveals it)."""
    return hashlib.sha256(raw).hexdigest()[:16]


def _bound_to(case_id: str) -> bytes:
    # A wrapped key copied onto another case's row does not open there.
    return f"shakti-intake-case-key:{case_id}".encode()


class FileKek:
    """AES-256-GCM key wrapping under a key read from a file: ``nonce || ciphertext || tag``."""

    def __init__(self, raw: bytes) -> None:
        if len(raw) != KEK_BYTES:
            raise ValueError("a KEK is 32 bytes")
        self._aead = AESGCM(raw)
        self._id = kek_id(raw)

    @property
    def key_id(self) -> str:
        return self._id

    async def wrap(self, case_key: bytes, case_id: str) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, case_key, _bound_to(case_id))

    async def unwrap(self, wrapped: bytes, case_id: str) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _bound_to(case_id))
        except InvalidTag:
            raise KekMissing(f"the key of case {case_id} does not open under KEK {self._id}") from None

    @classmethod
    def read(cls, path: Path, setting: str = "SHAKTI_KEK_FILE") -> FileKek:
        how = (
            "Run `shakti keys init` to create one (it never overwrites a key), or point "
            f"{setting} at the KEK file."
        )
        how_hi = (
            "नई कुंजी बनाने के लिए `shakti keys init` चलाएँ (यह किसी कुंजी को नहीं बदलता), या "
            f"{setting} में KEK फ़ाइल का पथ दें।"
        )
        if not path.is_file():
            raise KekUnavailable(
                f"The key-encryption key (KEK) is missing: no file {path}. {how}",
                f"कुंजी-एन्क्रिप्शन कुंजी (KEK) नहीं मिली: फ़ाइल {path} नहीं है। {how_hi}",
            )
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise KekUnavailable(
                f"The KEK file {path} can be read by others (mode {mode:o}): allow only its owner "
                f"(chmod 600 {path}), or make a new one with `shakti keys init`; {setting} names it.",
                f"KEK फ़ाइल {path} अन्य लोग भी पढ़ सकते हैं (mode {mode:o}): केवल स्वामी को अनुमति दें "
                f"(chmod 600 {path}), या `shakti keys init` से नई बनाएँ; {setting} में इसका पथ है।",
            )
        try:
            raw = base64.b64decode(path.read_text(encoding="ascii").strip(), validate=True)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raw = b""
        if len(raw) != KEK_BYTES:
            raise KekUnavailable(
                f"The KEK file {path} is malformed: it must hold 32 random bytes in base64 on one "
                f"line. {how}",
                f"KEK फ़ाइल {path} सही नहीं है: इसमें एक पंक्ति में base64 में 32 यादृच्छिक बाइट होने चाहिए। {how_hi}",
            )
        return cls(raw)


def write_kek_file(path: Path) -> str:
    """A new random KEK in ``path`` (0600, never overwriting); its id. For tests and rotation."""
    raw = os.urandom(KEK_BYTES)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(base64.b64encode(raw).decode("ascii") + "\n")
    return kek_id(raw)


class KekRing:
    """The current KEK (wraps and unwraps) and any previous ones (unwrap only, during a rotation)."""

    def __init__(self, current: KeyEncryptionKey, previous: list[KeyEncryptionKey] | None = None) -> None:
        self.current = current
        self._by_id = {k.key_id: k for k in [*(previous or []), current]}

    @property
    def key_id(self) -> str:
        return self.current.key_id

    def holds(self, key_id: str) -> bool:
        return key_id in self._by_id

    async def wrap(self, case_key: bytes, case_id: str) -> bytes:
        return await self.current.wrap(case_key, case_id)

    async def unwrap(self, wrapped: bytes, case_id: str, key_id: str) -> bytes:
        kek = self._by_id.get(key_id)
        if kek is None:
            raise KekMissing(
                f"the key of case {case_id} is wrapped by KEK {key_id}, which this process does not "
                f"hold (current {self.current.key_id}); set SHAKTI_KEK_PREVIOUS_FILE to that KEK"
            )
        return await kek.unwrap(wrapped, case_id)


def load_kek_ring(settings: Settings) -> KekRing:
    """The KEK ring the settings name; raises ``KekUnavailable`` when the current KEK cannot be used."""
    current = FileKek.read(settings.kek_path())
    previous: list[KeyEncryptionKey] = []
    if settings.kek_previous_file is not None:
        previous.append(FileKek.read(settings.kek_previous_file, "SHAKTI_KEK_PREVIOUS_FILE"))
    return KekRing(current, previous)
