"""What an operator sees when something the command needs is not there: NATS, the database or the
platform's HTTP API not answering, the keys missing. Each is a message in English and Hindi and a
non-zero exit code, never a traceback (the runner lets any exception through to the test)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from typer.testing import CliRunner

from shakti.cli import app as cli
from tests.sessions import keys_for_tests

NOTHING_LISTENS = "127.0.0.1:9"
"""The discard port: nothing answers there on a test machine."""

DEVANAGARI = range(0x0900, 0x0980)


def shakti(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, " ".join(result.output.split())


def told_in_both_languages(code: int, said: str, english: str, hindi: str) -> None:
    assert code != 0, said
    assert english in said and hindi in said, said
    assert "Traceback" not in said and "Error:" not in said, said


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SHAKTI_DATA_DIR": str(tmp_path / "data"),
        "SHAKTI_KEYS_DIR": str(keys_for_tests()),
        "COLUMNS": "200",
    }


async def test_backup_says_nats_does_not_answer(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SHAKTI_NATS_URL": f"nats://{NOTHING_LISTENS}"}
    code, said = await asyncio.to_thread(shakti, env, "backup", str(tmp_path / "backup"))
    told_in_both_languages(
        code, said, f"NATS does not answer at nats://{NOTHING_LISTENS}", f"nats://{NOTHING_LISTENS} पर NATS"
    )


async def test_restore_says_nats_does_not_answer(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SHAKTI_NATS_URL": f"nats://{NOTHING_LISTENS}"}
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "manifest.json").write_text('{"format": 1, "streams": []}')
    (backup / "web.json").write_text("{}")
    code, said = await asyncio.to_thread(shakti, env, "restore", str(backup), "--only", "streams")
    told_in_both_languages(
        code, said, f"NATS does not answer at nats://{NOTHING_LISTENS}", f"nats://{NOTHING_LISTENS} पर NATS"
    )


async def test_the_nats_password_is_not_shown(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SHAKTI_NATS_URL": f"nats://ops:secret-word@{NOTHING_LISTENS}"}
    code, said = await asyncio.to_thread(shakti, env, "backup", str(tmp_path / "backup"))
    told_in_both_languages(code, said, "NATS does not answer", "NATS उत्तर नहीं दे रहा")
    assert "secret-word" not in said


async def test_backup_says_the_database_does_not_answer(tmp_path: Path, nats_url: str) -> None:
    env = base_env(tmp_path) | {
        "SHAKTI_NATS_URL": nats_url,
        "SHAKTI_DATABASE_URL": f"postgresql+asyncpg://shakti:secret-word@{NOTHING_LISTENS}/{{service}}",
    }
    code, said = await asyncio.to_thread(shakti, env, "backup", str(tmp_path / "backup"))
    told_in_both_languages(code, said, "The database does not answer", "डेटाबेस उत्तर नहीं दे रहा")
    assert "secret-word" not in said


async def test_rotate_kek_says_the_key_store_does_not_answer(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "SHAKTI_KEY_STORE_URL": f"postgresql+asyncpg://shakti:pw@{NOTHING_LISTENS}/keys"
    }
    code, said = await asyncio.to_thread(shakti, env, "keys", "rotate-kek")
    told_in_both_languages(code, said, "The database does not answer", "डेटाबेस उत्तर नहीं दे रहा")


async def test_an_api_command_says_the_platform_does_not_answer(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SHAKTI_PLATFORM_URL": f"http://{NOTHING_LISTENS}"}
    for command in (["status"], ["users", "list"], ["parked", "list"]):
        code, said = await asyncio.to_thread(shakti, env, *command)
        told_in_both_languages(
            code,
            said,
            f"The platform does not answer at http://{NOTHING_LISTENS}",
            f"http://{NOTHING_LISTENS} पर प्लेटफ़ॉर्म उत्तर नहीं दे रहा",
        )


async def test_an_api_command_says_the_signing_key_is_missing(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "SHAKTI_KEYS_DIR": str(tmp_path / "no-keys"),
        "SHAKTI_PLATFORM_URL": f"http://{NOTHING_LISTENS}",
    }
    code, said = await asyncio.to_thread(shakti, env, "status")
    assert code != 0 and "signing.key" in said and any(ord(c) in DEVANAGARI for c in said), said
    assert "Traceback" not in said


async def test_rotate_kek_says_the_kek_is_missing(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"SHAKTI_KEK_FILE": str(tmp_path / "no-keys" / "kek.key")}
    code, said = await asyncio.to_thread(shakti, env, "keys", "rotate-kek")
    assert code != 0 and "kek.key" in said and any(ord(c) in DEVANAGARI for c in said), said
    assert "Traceback" not in said


async def test_restoring_the_keys_alone_says_the_intake_stream_is_missing(tmp_path: Path) -> None:
    # No SHAKTI_NATS_URL: the data directory's own (new, empty) NATS server is started for the restore.
    env = base_env(tmp_path)
    backup = tmp_path / "backup"
    backup.mkdir()
    (backup / "manifest.json").write_text('{"format": 1, "streams": []}')
    (backup / "web.json").write_text("{}")
    (backup / "keys.jsonl").write_text("")
    code, said = await asyncio.to_thread(shakti, env, "restore", str(backup), "--only", "keys")
    told_in_both_languages(code, said, "has no INTAKE stream", "INTAKE स्ट्रीम नहीं है")
