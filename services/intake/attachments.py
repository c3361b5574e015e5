"""A case's files (an FIR copy, a medical report, photos), sealed like the identity and kept in
JetStream's Object Store.

A file is sealed with its case's key before it leaves intake (AES-GCM, bound to the case and the
attachment), so the bucket, its replicas and every backup hold only ciphertext; destroying the case's key
at an erasure makes every copy unreadable, and the erasure also deletes the bucket's own copies. Its
name is sealed in the case's ``AttachmentRecorded``; the object is named by case and attachment ids only.

Only what an officer can open is taken: a PDF, a JPEG or a PNG, told by the file's first bytes rather
than by what the browser claims, up to ``MAX_BYTES``.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.aio.client import Client as NatsClient
from nats.js.api import ObjectStoreConfig, StorageType
from nats.js.errors import NotFoundError, ObjectDeletedError, ObjectNotFoundError
from nats.js.object_store import ObjectStore

from shared.bus import JETSTREAM_API_TIMEOUT

BUCKET = "shakti-intake-attachments"
"""The Object Store bucket (stream ``OBJ_shakti-intake-attachments``) only intake may write."""
MAX_BYTES = 10 * 1024 * 1024
SIGNATURES: dict[str, bytes] = {
    "application/pdf": b"%PDF-",
    "image/jpeg": b"\xff\xd8\xff",
    "image/png": b"\x89PNG\r\n\x1a\n",
}
SUFFIXES: dict[str, tuple[str, ...]] = {
    "application/pdf": ("pdf",),
    "image/jpeg": ("jpg", "jpeg"),
    "image/png": ("png",),
}


class FileRefused(ValueError):
    """A file intake does not keep: its HTTP status and why, in both languages."""

    def __init__(self, status: int, code: str, en: str, hi: str) -> None:
        super().__init__(en)
        self.status, self.code, self.en, self.hi = status, code, en, hi


@dataclass(frozen=True)
class CaseFile:
    """A file as received, checked: its bytes and what it is."""

    content: bytes
    media_type: str

    @property
    def size(self) -> int:
        return len(self.content)


def checked(content: bytes) -> CaseFile:
    """The file if intake keeps it; ``FileRefused`` when it is empty, too large or of another kind."""
    if not content:
        raise FileRefused(422, "file_empty", "The file is empty.", "फ़ाइल ख़ाली है।")
    if len(content) > MAX_BYTES:
        raise FileRefused(
            413,
            "file_too_large",
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.",
            f"फ़ाइल {MAX_BYTES // (1024 * 1024)} MB से बड़ी है।",
        )
    media_type = next((t for t, start in SIGNATURES.items() if content.startswith(start)), None)
    if media_type is None:
        raise FileRefused(
            422,
            "file_type",
            "Only a PDF, a JPEG or a PNG file can be attached.",
            "केवल PDF, JPEG या PNG फ़ाइल ही जोड़ी जा सकती है।",
        )
    return CaseFile(content, media_type)


def media_type_of(content: bytes) -> str:
    """What an opened file is (it was checked on its way in)."""
    return next(
        (t for t, start in SIGNATURES.items() if content.startswith(start)), "application/octet-stream"
    )


def served_name(name: str, media_type: str) -> str:
    """The name a file is handed over under: its own, ending in its kind's suffix. A PDF that is also a
    page (a polyglot) named ``statement.html`` would run its script once saved and opened."""
    suffixes = SUFFIXES.get(media_type, ())
    if not suffixes or ("." in name and name.rsplit(".", 1)[-1].lower() in suffixes):
        return name
    return f"{name}.{suffixes[0]}"


def object_name(case_id: str, attachment_id: str) -> str:
    return f"{case_id}/{attachment_id}"


class CaseFiles:
    """The bucket of sealed files: put, get and delete by case and attachment."""

    def __init__(self, nc: NatsClient, *, replicas: int = 1) -> None:
        self.nc = nc
        self.replicas = replicas
        self._bucket: ObjectStore | None = None

    async def bucket(self) -> ObjectStore:
        if self._bucket is None:
            config = ObjectStoreConfig(
                bucket=BUCKET,
                description="Mission Shakti: case files, sealed with each case's key (intake)",
                storage=StorageType.FILE,
                replicas=self.replicas,
            )
            # Created with the one configuration the server accepts again unchanged (like the streams).
            self._bucket = await self.nc.jetstream(timeout=JETSTREAM_API_TIMEOUT).create_object_store(
                BUCKET, config
            )
        return self._bucket

    async def put(self, case_id: str, attachment_id: str, sealed: bytes) -> None:
        await (await self.bucket()).put(object_name(case_id, attachment_id), sealed)

    async def get(self, case_id: str, attachment_id: str) -> bytes | None:
        try:
            found = await (await self.bucket()).get(object_name(case_id, attachment_id))
        except (ObjectNotFoundError, ObjectDeletedError, NotFoundError):
            return None
        return bytes(found.data or b"")

    async def delete(self, case_id: str, attachment_id: str) -> None:
        try:
            await (await self.bucket()).delete(object_name(case_id, attachment_id))
        except (ObjectNotFoundError, ObjectDeletedError, NotFoundError):
            return
