"""Sealing with per-case AES-GCM keys, and the key store on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import base64

import pytest

from services.intake.keystore import KeyStore, SealBroken, seal, unseal
from shared.readmodel import create_engine


def test_a_sealed_value_opens_only_with_its_key_its_case_and_its_purpose() -> None:
    key, other_key = bytes(range(32)), bytes(32)
    sealed = seal(key, "case-a", "note", "Call her after 6 pm at 9876543210")
    assert "9876543210" not in sealed and b"9876543210" not in base64.b64decode(sealed)
    assert unseal(key, "case-a", "note", sealed) == "Call her after 6 pm at 9876543210"
    assert seal(key, "case-a", "note", "same") != seal(
        key, "case-a", "note", "same"
    )  # a fresh nonce each time
    for wrong in [(other_key, "case-a", "note"), (key, "case-b", "note"), (key, "case-a", "identity")]:
        with pytest.raises(SealBroken) as caught:
            unseal(*wrong, sealed)
        assert "9876543210" not in str(caught.value)


async def test_key_store_makes_one_key_per_case_and_destroys_it(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        keys = KeyStore(engine)
        await keys.setup()
        await keys.setup()  # idempotent at every start
        # Replicas racing to make the same case's key all end with the one that was stored.
        made = await asyncio.gather(*(KeyStore(engine).key_for("case-1") for _ in range(8)))
        assert len(set(made)) == 1 and len(made[0]) == 32
        assert await keys.find("case-1") == made[0]
        assert await keys.key_for("case-2") != made[0]
        assert await keys.destroy("case-1") is True
        assert await keys.find("case-1") is None
        assert await keys.destroy("case-1") is False
        assert await keys.find("case-2") is not None
    finally:
        await engine.dispose()
