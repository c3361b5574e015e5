"""The blind index of a complainant's phone: one number, however it is written, one index; another
key, another index; nothing but a keyed hash, and no key no index."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from services.intake.kek import FileKek, KekRing, write_kek_file
from services.intake.keystore import KeyStore, seal
from services.intake.phone_index import (
    NotAPhone,
    PhoneIndex,
    PhoneIndexer,
    load_phone_index,
    normalised_phone,
)
from shared.keys import PHONE_INDEX_KEY, KeyProblem, check_keys, init_keys, keys_needed
from shared.readmodel import sessions
from shared.settings import Settings

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))


@pytest.mark.parametrize(
    "written",
    [
        "9876543210",
        "+919876543210",
        "+91 98765 43210",
        "+91-98765-43210",
        "919876543210",
        "09876543210",
        "0 98765-43210",
        "0091 9876543210",
        " 98765 43210 ",
    ],
)
def test_every_way_of_writing_one_indian_number_is_one_number(written: str) -> None:
    assert normalised_phone(written) == "+919876543210"


@pytest.mark.parametrize(
    "written", ["", "12345", "98765432100", "+4479460000", "98765x3210", "+91 98765 4321", "0000000000"]
)
def test_what_is_not_an_indian_number_is_refused(written: str) -> None:
    with pytest.raises(NotAPhone) as refused:
        normalised_phone(written)
    assert written.strip() == "" or written not in str(refused.value)  # never repeats the value


def test_equal_numbers_have_one_index_and_another_key_another() -> None:
    index = PhoneIndex(KEY)
    assert index.of("9876543210") == index.of("+91 98765-43210") == index.of("09876543210")
    assert index.of("9876543210") != index.of("9876543211")
    assert PhoneIndex(OTHER_KEY).of("9876543210") != index.of("9876543210")
    assert "9876543210" not in index.of("9876543210") and len(index.of("9876543210")) == 64


def test_a_key_that_is_not_32_bytes_is_refused() -> None:
    with pytest.raises(ValueError):
        PhoneIndex(b"short")


def test_keys_init_writes_the_phone_index_key_and_intake_needs_it(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    settings = Settings(keys_dir=keys, data_dir=tmp_path)
    init_keys(settings)
    written = keys / "phone-index.key"
    assert written.stat().st_mode & 0o077 == 0
    assert len(base64.b64decode(written.read_text().strip())) == 32
    assert PHONE_INDEX_KEY in keys_needed(issues_tokens=False, services=("intake",))
    assert PHONE_INDEX_KEY not in keys_needed(issues_tokens=False, services=("routing",))
    load_phone_index(settings)  # no refusal
    written.unlink()
    with pytest.raises(KeyProblem) as missing:
        load_phone_index(settings)
    assert "SHAKTI_PHONE_INDEX_KEY_FILE" in missing.value.en and "shakti keys init" in missing.value.hi
    with pytest.raises(KeyProblem):
        check_keys(settings, keys_needed(issues_tokens=False, services=("intake",)))


async def test_a_registration_is_indexed_from_its_sealed_identity_and_not_when_it_does_not_open(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Indexed from the sealed identity with the case's key; no key (erased), no number, or a seal that
    does not open: no index, and the registration is not refused for it (it would be parked)."""
    write_kek_file(tmp_path / "kek.key")
    keys = KeyStore.open(
        f"sqlite+aiosqlite:///{tmp_path / 'keys.db'}", KekRing(FileKek.read(tmp_path / "kek.key"))
    )
    await keys.setup()
    indexer = PhoneIndexer(keys, PhoneIndex(KEY), shares_database=False)
    try:
        key = await keys.key_for("case-1")

        def sealed(particulars: dict[str, str | None], with_key: bytes = key) -> str:
            return seal(with_key, "case-1", "identity", json.dumps(particulars))

        async with sessions(keys.engine)() as session:
            found = await indexer.of_registration("case-1", sealed({"phone": "+91 98765 43210"}), session)
            assert found == PhoneIndex(KEY).of("9876543210")
            assert await indexer.of_registration("case-1", sealed({"phone": None}), session) is None
            assert await indexer.of_registration("case-1", sealed({"phone": "+4479460000"}), session) is None
            broken = sealed({"phone": "9876543210"}, bytes(32))
            assert await indexer.of_registration("case-1", broken, session) is None
            assert "case-1" in caplog.text and "9876543210" not in caplog.text
            await keys.destroy("case-1")
            assert await indexer.of_registration("case-1", sealed({"phone": "9876543210"}), session) is None
    finally:
        await keys.close()
