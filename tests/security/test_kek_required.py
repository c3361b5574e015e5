"""Intake does not start without its key-encryption key: `shakti up` / `shakti serve intake` say why,
in English and Hindi, before anything starts (no NATS server, no database touched)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from shakti.cli import app
from shakti.config import PlatformSettings
from shared.keys import init_keys


@pytest.mark.parametrize("command", [["up"], ["serve", "intake"]])
def test_no_kek_no_start(command: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "keys" / "kek.key"
    result = CliRunner().invoke(
        app, command, env={"SHAKTI_KEK_FILE": str(missing), "SHAKTI_DATA_DIR": str(tmp_path / "var")}
    )
    assert result.exit_code == 1
    assert "SHAKTI_KEK_FILE" in result.output and "shakti keys init" in result.output
    assert "कुंजी" in result.output
    assert not (tmp_path / "var").exists()  # nothing was started or written


def test_routing_alone_needs_no_kek(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from shakti import launcher

    started: list[tuple[str, ...]] = []
    monkeypatch.setattr(launcher, "nats_for", lambda settings: (_ for _ in ()).throw(SystemExit(0)))
    monkeypatch.setattr(launcher, "configure_logging", lambda settings: started.append(()))
    result = CliRunner().invoke(app, ["serve", "routing"], env={"SHAKTI_KEK_FILE": str(tmp_path / "none")})
    assert result.exit_code == 0 and started


@pytest.mark.parametrize("command", [["up"], ["serve", "intake"]])
def test_no_phone_index_key_no_start(command: list[str], tmp_path: Path) -> None:
    """The blind index of a complainant's phone has no default key: without its file intake does not
    start, and says so in both languages."""
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(keys_dir=keys))
    (keys / "phone-index.key").unlink()
    result = CliRunner().invoke(
        app, command, env={"SHAKTI_KEYS_DIR": str(keys), "SHAKTI_DATA_DIR": str(tmp_path / "var")}
    )
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "SHAKTI_PHONE_INDEX_KEY_FILE" in said and "shakti keys init" in said and "कुंजी" in said
    assert not (tmp_path / "var").exists()
