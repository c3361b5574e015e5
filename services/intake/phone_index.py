"""The blind index of a complainant's phone: her earlier cases found by her number, never by the number
in clear.

The index is HMAC-SHA256 under a key of its own (``phone-index.key``, written by ``shakti keys init``;
no default, a missing key stops intake) over the number written one way, ``+91`` and ten digits, so
that ``98765 43210``, ``+91-98765-43210`` and ``098765 43210`` are one number and one index. Without
the key nobody can compute an index from a number, and an index does not give the number back.

Where the index lives (the reasoning is in ``services/intake/README.md``): nowhere in the stream. The
case register computes it when it projects a registration, by opening the sealed identity with the
case's key (``PhoneIndexer``); an erased case has no key, so neither the live register (which clears
the index at ``IdentityErased``) nor any rebuild can link it to her number again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.intake.kek import KekMissing
from services.intake.keystore import KeyStore, SealBroken, unseal
from shared.keys import PHONE_INDEX_KEY, KeySettings, secret_key
from shared.readmodel import apart_from_write_batch

log = logging.getLogger(__name__)

INDIA = "+91"
SEPARATORS = re.compile(r"[\s\-().]")
TEN_DIGITS = re.compile(r"[1-9][0-9]{9}")
IDENTITY_SEALED_AS = "identity"
"""What a registration's identity is sealed as (``services.intake.commands.IDENTITY``)."""


class NotAPhone(ValueError):
    """Not an Indian phone number; the message never repeats what was given (it may be hers)."""

    def __init__(self) -> None:
        super().__init__("not an Indian phone number (ten digits, optionally +91 or 0 before them)")


def normalised_phone(written: str) -> str:
    """One Indian number one way: ``+91`` and ten digits (the first not 0), from the ways people write it:
    spaces and dashes anywhere, ``+91``/``0091``/``91`` before the ten digits, or a leading ``0``."""
    digits = SEPARATORS.sub("", written)
    if digits.startswith("+"):
        if not digits.startswith(INDIA):
            raise NotAPhone
        digits = digits[len(INDIA) :]
    elif digits.startswith("00" + INDIA[1:]):
        digits = digits[4:]
    elif len(digits) == 12 and digits.startswith(INDIA[1:]):
        digits = digits[2:]
    if len(digits) == 11 and digits.startswith("0"):
        digits = digits[1:]
    if not TEN_DIGITS.fullmatch(digits):
        raise NotAPhone
    return INDIA + digits


class PhoneIndex:
    """HMAC-SHA256 of a normalised number under the phone-index key (64 hex digits)."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("the phone-index key is 32 bytes")
        self._key = key

    def of(self, phone: str) -> str:
        return hmac.new(self._key, normalised_phone(phone).encode("ascii"), hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return "PhoneIndex(<key>)"


def load_phone_index(settings: KeySettings) -> PhoneIndex:
    """The index under the key the settings name; ``KeyProblem`` (bilingual) when it cannot be used."""
    return PhoneIndex(secret_key(settings, PHONE_INDEX_KEY))


class PhoneIndexer:
    """A registration's index, from its sealed identity: None when the case's key is gone (erased) or
    she gave no number (or one that is not Indian).

    ``shares_database``: the key store is in the read model's own database (the default), so the keys
    are read in the projection batch's own transaction: no second connection, and (on SQLite) the
    batch runs on the event loop without a pause, as it did before it indexed phones. Elsewhere
    (``SHAKTI_KEY_STORE_URL``) they are read on the key store's engine."""

    def __init__(self, keys: KeyStore, index: PhoneIndex, *, shares_database: bool) -> None:
        self.keys = keys
        self.index = index
        self.shares_database = shares_database
        self._batch: dict[str, bytes | None] = {}

    async def _keys(self, case_ids: Sequence[str], session: AsyncSession) -> dict[str, bytes]:
        # A batch on another database (``shakti check`` rebuilds into a scratch one) reads the keys
        # where they are.
        if self.shares_database and session.bind is self.keys.engine:
            return await self.keys.find_many(case_ids, within=session)
        with apart_from_write_batch():  # a write batch's BEGIN IMMEDIATE would wait for the key store
            return await self.keys.find_many(case_ids)

    async def prefetch(self, case_ids: Sequence[str], session: AsyncSession) -> None:
        """The keys of a batch's registrations in one query (a rebuild reads one per registration);
        what is not found is no key (erased). Replaces the previous batch's."""
        found = await self._keys(case_ids, session) if case_ids else {}
        self._batch = {case_id: found.get(case_id) for case_id in case_ids}

    async def of_registration(self, case_id: str, sealed_identity: str, session: AsyncSession) -> str | None:
        try:
            if case_id in self._batch:
                key = self._batch.pop(case_id)
            else:
                key = (await self._keys([case_id], session)).get(case_id)
            if key is None:
                return None
            particulars = json.loads(unseal(key, case_id, IDENTITY_SEALED_AS, sealed_identity))
        except (KekMissing, SealBroken) as trouble:
            # The case stays in the register without its index (parking the registration would take
            # the case out of it); after the KEK is put right, `shakti rebuild intake` indexes it.
            log.error("case %s: its phone is not indexed: %s", case_id, trouble)
            return None
        phone = particulars.get("phone") if isinstance(particulars, dict) else None
        if not isinstance(phone, str) or not phone:
            return None
        try:
            return self.index.of(phone)
        except NotAPhone:
            return None
