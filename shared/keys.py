"""Key files: what signs session tokens, what makes certificate ids, what wraps intake's case keys.

One directory (``SHAKTI_KEYS_DIR``, default ``keys``; ``shakti up --demo`` uses ``<data_dir>/keys``),
never inside the data directory in production, holds:

``signing.key``      Ed25519 private key (PEM, PKCS8). Only the process that issues session tokens (the
                     web front) reads it.
``signing.pub``      Ed25519 public keys (PEM, SubjectPublicKeyInfo), one or more: every process verifies
                     tokens with them. During a rotation it holds the new key and the old one.
``certificate.key``  32 random bytes, base64 on one line: training's certificate ids.
``kek.key``          32 random bytes, base64 on one line: the key-encryption key of intake's case keys.
``phone-index.key``  32 random bytes, base64 on one line: the HMAC key of intake's blind index of a
                     complainant's phone (``services/intake/phone_index.py``).

Each file may be placed elsewhere by its own setting. ``shakti keys init`` writes whichever is missing
(directory 0700, files 0600) and never overwrites one. A process refuses to start when a key it needs is
missing, malformed, too short, or readable by anyone but its owner: each refusal is a ``KeyProblem``
with an English and a Hindi message naming the setting and ``shakti keys init``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SECRET_BYTES = 32
OLD_DEFAULT_SECRET = "change-me-in-production"
"""What ``SHAKTI_SECRET_KEY`` defaulted to before keys had files of their own: never accepted."""


class KeySettings(Protocol):
    keys_dir: Path
    signing_key_file: Path | None
    signing_public_key_file: Path | None
    certificate_key_file: Path | None
    kek_file: Path | None
    phone_index_key_file: Path | None


@dataclass(frozen=True)
class KeyFile:
    """One key file: its name in the keys directory and the setting that may put it elsewhere."""

    name: str
    field: str
    secret: bool
    what_en: str
    what_hi: str

    @property
    def setting(self) -> str:
        return f"SHAKTI_{self.field.upper()}"

    def path(self, settings: KeySettings) -> Path:
        placed: Path | None = getattr(settings, self.field)
        return placed if placed is not None else settings.keys_dir / self.name


SIGNING_KEY = KeyFile(
    "signing.key", "signing_key_file", True, "the key that signs session tokens", "सत्र टोकन की हस्ताक्षर कुंजी"
)
SIGNING_PUBLIC_KEY = KeyFile(
    "signing.pub",
    "signing_public_key_file",
    False,
    "the public keys that check session tokens",
    "सत्र टोकन जाँचने की सार्वजनिक कुंजियाँ",
)
CERTIFICATE_KEY = KeyFile(
    "certificate.key", "certificate_key_file", True, "the certificate key", "प्रमाणपत्र कुंजी"
)
KEK = KeyFile("kek.key", "kek_file", True, "the key-encryption key", "कुंजी-एन्क्रिप्शन कुंजी")
PHONE_INDEX_KEY = KeyFile(
    "phone-index.key",
    "phone_index_key_file",
    True,
    "the key of the phone blind index",
    "फ़ोन नंबर के गुप्त सूचकांक (ब्लाइंड इंडेक्स) की कुंजी",
)
ALL_KEYS = (SIGNING_KEY, SIGNING_PUBLIC_KEY, CERTIFICATE_KEY, KEK, PHONE_INDEX_KEY)


class KeyProblem(RuntimeError):
    """A process cannot start with the keys it was given; the message says which, why, and what to do."""

    def __init__(self, en: str, hi: str) -> None:
        super().__init__(en)
        self.en = en
        self.hi = hi


def _unusable(key: KeyFile, path: Path, why_en: str, why_hi: str) -> KeyProblem:
    return KeyProblem(
        f"Cannot start: {key.what_en} ({path}) {why_en}. Run `shakti keys init` to write the missing keys, "
        f"or point {key.setting} at the right file.",
        f"शुरू नहीं हो सकता: {key.what_hi} ({path}) {why_hi}। गायब कुंजियाँ बनाने के लिए `shakti keys init` "
        f"चलाएँ, या {key.setting} में सही फ़ाइल दें।",
    )


RETIRED_SETTING = "SHAKTI_SECRET_KEY"


def check_retired_setting(environ: Mapping[str, str]) -> None:
    """``SHAKTI_SECRET_KEY`` once signed every token, with a public default. It is read no more: a
    process that finds it set refuses to start rather than let an operator believe it protects anything."""
    if RETIRED_SETTING in environ:
        raise KeyProblem(
            f"Cannot start: {RETIRED_SETTING} is no longer used (tokens are signed with signing.key, "
            "certificates use certificate.key). Remove it and run `shakti keys init`.",
            f"शुरू नहीं हो सकता: {RETIRED_SETTING} अब उपयोग नहीं होता (टोकन signing.key से, प्रमाणपत्र "
            "certificate.key से)। इसे हटाएँ और `shakti keys init` चलाएँ।",
        )


def key_id(raw: bytes) -> str:
    """A key's id: the first 16 hex digits of sha256 of its raw bytes (the same on every machine)."""
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_id(key: Ed25519PublicKey) -> str:
    return key_id(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    kid: str


def _read(key: KeyFile, path: Path) -> bytes:
    try:
        info = path.stat()
    except FileNotFoundError:
        raise _unusable(key, path, "is missing", "नहीं मिली") from None
    if not stat.S_ISREG(info.st_mode):
        raise _unusable(key, path, "is not a file", "फ़ाइल नहीं है")
    if key.secret and info.st_mode & 0o077:
        raise _unusable(
            key,
            path,
            f"may be read by others (mode {stat.S_IMODE(info.st_mode):04o}; make it 0600)",
            f"दूसरे भी पढ़ सकते हैं (मोड {stat.S_IMODE(info.st_mode):04o}; इसे 0600 करें)",
        )
    return path.read_bytes()


def load_signing_key(settings: KeySettings) -> SigningKey:
    path = SIGNING_KEY.path(settings)
    content = _read(SIGNING_KEY, path)
    try:
        private = serialization.load_pem_private_key(content, password=None)
    except (ValueError, TypeError):
        raise _unusable(SIGNING_KEY, path, "is not a PEM private key", "PEM निजी कुंजी नहीं है") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise _unusable(SIGNING_KEY, path, "is not an Ed25519 key", "Ed25519 कुंजी नहीं है")
    return SigningKey(private, public_key_id(private.public_key()))


def load_verification_keys(settings: KeySettings) -> dict[str, Ed25519PublicKey]:
    """Every public key in ``signing.pub``, by key id (a token names its key in the ``kid`` header)."""
    path = SIGNING_PUBLIC_KEY.path(settings)
    content = _read(SIGNING_PUBLIC_KEY, path)
    marker = b"-----BEGIN PUBLIC KEY-----"
    blocks = [marker + part for part in content.split(marker)[1:]]
    keys: dict[str, Ed25519PublicKey] = {}
    for block in blocks:
        try:
            public = serialization.load_pem_public_key(block)
        except ValueError:
            raise _unusable(
                SIGNING_PUBLIC_KEY, path, "holds a block that is not a PEM public key", "में अमान्य PEM ब्लॉक है"
            ) from None
        if not isinstance(public, Ed25519PublicKey):
            raise _unusable(
                SIGNING_PUBLIC_KEY, path, "holds a key that is not Ed25519", "में Ed25519 से भिन्न कुंजी है"
            )
        keys[public_key_id(public)] = public
    if not keys:
        raise _unusable(SIGNING_PUBLIC_KEY, path, "holds no public key", "में कोई सार्वजनिक कुंजी नहीं")
    return keys


def load_secret(settings: KeySettings, key: KeyFile) -> bytes:
    """A 32-byte secret key file (base64, one line): ``certificate.key``, ``kek.key``, ``phone-index.key``."""
    path = key.path(settings)
    text = _read(key, path).decode("ascii", errors="replace").strip()
    if text == OLD_DEFAULT_SECRET:
        raise _unusable(
            key, path, f"is the old public default {OLD_DEFAULT_SECRET!r}", "पुराना सार्वजनिक डिफ़ॉल्ट मान है"
        )
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _unusable(key, path, "is not base64 on one line", "एक पंक्ति में base64 नहीं है") from None
    if len(raw) < SECRET_BYTES:
        raise _unusable(
            key,
            path,
            f"is too short ({len(raw)} bytes; it needs {SECRET_BYTES})",
            f"बहुत छोटी है ({len(raw)} बाइट; {SECRET_BYTES} चाहिए)",
        )
    if len(raw) > SECRET_BYTES:
        raise _unusable(key, path, f"is not {SECRET_BYTES} bytes long", f"{SECRET_BYTES} बाइट की नहीं है")
    return raw


_secrets: dict[tuple[Path, int, int], bytes] = {}


def secret_key(settings: KeySettings, key: KeyFile) -> bytes:
    """``load_secret``, read once per file version (a handler may ask for it on every event)."""
    path = key.path(settings)
    try:
        info = path.stat()
    except FileNotFoundError:
        return load_secret(settings, key)
    version = (path.resolve(), info.st_mtime_ns, info.st_size)
    found = _secrets.get(version)
    if found is None:
        found = _secrets[version] = load_secret(settings, key)
    return found


def check_keys(settings: KeySettings, needed: tuple[KeyFile, ...]) -> None:
    """Raise the first ``KeyProblem`` among the keys a process needs (before it starts anything)."""
    for key in needed:
        if key is SIGNING_KEY:
            load_signing_key(settings)
        elif key is SIGNING_PUBLIC_KEY:
            load_verification_keys(settings)
        else:
            load_secret(settings, key)


def keys_needed(*, issues_tokens: bool, services: tuple[str, ...]) -> tuple[KeyFile, ...]:
    """The keys a process needs: the public keys always (every HTTP route checks tokens), the signing
    key where tokens are issued, and each service's own keys."""
    needed = [SIGNING_PUBLIC_KEY]
    if issues_tokens:
        needed.append(SIGNING_KEY)
    if "training" in services:
        needed.append(CERTIFICATE_KEY)
    if "intake" in services:
        needed.append(PHONE_INDEX_KEY)
    return tuple(needed)


def _write_new(path: Path, content: bytes) -> None:
    # O_EXCL: never overwrite, even when another `keys init` runs at the same moment.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(content)


def _pem_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def pem_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


@dataclass(frozen=True)
class InitOutcome:
    written: list[Path]
    kept: list[Path]
    notes: list[str]


def init_keys(settings: KeySettings) -> InitOutcome:
    """Write every key file that is missing; leave every existing one as it is."""
    written: list[Path] = []
    kept: list[Path] = []
    notes: list[str] = []
    for key in ALL_KEYS:
        path = key.path(settings)
        if path.exists():
            kept.append(path)
    signing, public = SIGNING_KEY.path(settings), SIGNING_PUBLIC_KEY.path(settings)
    for path in {p.parent for p in (k.path(settings) for k in ALL_KEYS)}:
        if not path.exists():
            path.mkdir(parents=True, mode=0o700)
    if not signing.exists():
        if public.exists():
            # A verifying process's copy of the public keys: a new pair here would match none of them.
            notes.append(
                f"{public} exists without {signing}: no signing key written (only the web front signs)"
            )
        else:
            private = Ed25519PrivateKey.generate()
            _write_new(signing, _pem_private(private))
            _write_new(public, pem_public(private.public_key()))
            written += [signing, public]
    elif not public.exists():
        private_key = load_signing_key(settings).private
        _write_new(public, pem_public(private_key.public_key()))
        written.append(public)
    for key in (CERTIFICATE_KEY, KEK, PHONE_INDEX_KEY):
        path = key.path(settings)
        if not path.exists():
            _write_new(path, base64.b64encode(secrets.token_bytes(SECRET_BYTES)) + b"\n")
            written.append(path)
    return InitOutcome(written, kept, notes)
