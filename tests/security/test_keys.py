"""Issue 12, finding 1 (the public default secret signed everything): keys are files of their own,
written by `shakti keys init`, and `shakti up` / `shakti serve` refuse to start without usable ones."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from shakti.cli import app as cli
from shakti.config import PlatformSettings
from shakti.platform import build_platform
from shared.keys import (
    CERTIFICATE_KEY,
    KEK,
    SIGNING_KEY,
    SIGNING_PUBLIC_KEY,
    KeyProblem,
    check_keys,
    init_keys,
    key_id,
    keys_needed,
    load_secret,
)
from shared.natsserver import free_port
from tests.waiting import eventually

FILES = ("signing.key", "signing.pub", "certificate.key", "kek.key", "phone-index.key")


def invoke(*args: str, env: dict[str, str]) -> tuple[int, str]:
    # The runner overlays its env on the process's: the run's own SHAKTI_* settings are unset here.
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("SHAKTI_")}
    result = CliRunner().invoke(cli, list(args), env={**unset, "COLUMNS": "200", **env})
    return result.exit_code, result.output


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keys_init_writes_what_is_missing_private_to_its_owner_and_never_overwrites(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    code, out = invoke("keys", "init", env={"SHAKTI_KEYS_DIR": str(keys)})
    assert code == 0, out
    assert sorted(p.name for p in keys.iterdir()) == sorted(FILES)
    assert mode(keys) == 0o700 and all(mode(keys / name) == 0o600 for name in FILES)
    for name in FILES:
        assert f"wrote {keys / name}" in out
    before = {name: (keys / name).read_bytes() for name in FILES}
    settings = PlatformSettings(keys_dir=keys)
    check_keys(settings, (SIGNING_KEY, SIGNING_PUBLIC_KEY, CERTIFICATE_KEY, KEK))
    assert len(load_secret(settings, KEK)) == 32 and len(key_id(load_secret(settings, KEK))) == 16

    (keys / "certificate.key").unlink()
    code, out = invoke("keys", "init", env={"SHAKTI_KEYS_DIR": str(keys)})
    assert (
        code == 0
        and f"wrote {keys / 'certificate.key'}" in out
        and "wrote" not in out.replace(f"wrote {keys / 'certificate.key'}", "")
    )
    assert all((keys / n).read_bytes() == before[n] for n in FILES if n != "certificate.key")
    assert (keys / "certificate.key").read_bytes() != before["certificate.key"]
    code, out = invoke("keys", "init", env={"SHAKTI_KEYS_DIR": str(keys)})
    assert code == 0 and "nothing to write" in out


def test_a_verifying_pod_with_only_the_public_key_gets_no_signing_key(tmp_path: Path) -> None:
    source = tmp_path / "web"
    init_keys(PlatformSettings(keys_dir=source))
    pod = tmp_path / "intake"
    pod.mkdir()
    (pod / "signing.pub").write_bytes((source / "signing.pub").read_bytes())
    code, out = invoke("keys", "init", env={"SHAKTI_KEYS_DIR": str(pod)})
    assert code == 0 and "no signing key written" in " ".join(out.split())
    assert not (pod / "signing.key").exists()
    assert (pod / "signing.pub").read_bytes() == (source / "signing.pub").read_bytes()


KEEP = b"<keep the key, change its mode>"


def broken(tmp_path: Path, name: str, content: bytes | None, file_mode: int) -> Path:
    """A complete key folder but for one file: gone (None), replaced, or only its mode changed."""
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(keys_dir=keys))
    if content is None:
        (keys / name).unlink()
        return keys
    if content is not KEEP:
        (keys / name).write_bytes(content)
    (keys / name).chmod(file_mode)
    return keys


CASES = {
    "signing key missing": ("signing.key", None, 0o600, "SHAKTI_SIGNING_KEY_FILE"),
    "signing key readable by others": ("signing.key", KEEP, 0o644, "SHAKTI_SIGNING_KEY_FILE"),
    "signing key not a key": ("signing.key", b"-----BEGIN PRIVATE KEY-----\nAAAA\n", 0o600, "SHAKTI_SIGNING_KEY_FILE"),
    "public key missing": ("signing.pub", None, 0o600, "SHAKTI_SIGNING_PUBLIC_KEY_FILE"),
    "certificate key not base64": ("certificate.key", b"not a key at all!\n", 0o600, "SHAKTI_CERTIFICATE_KEY_FILE"),
    "certificate key too short": ("certificate.key", b"c2hvcnQ=\n", 0o600, "SHAKTI_CERTIFICATE_KEY_FILE"),
    "certificate key the old default": (
        "certificate.key", b"change-me-in-production\n", 0o600, "SHAKTI_CERTIFICATE_KEY_FILE",
    ),
    "certificate key readable by the group": ("certificate.key", KEEP, 0o640, "SHAKTI_CERTIFICATE_KEY_FILE"),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_up_refuses_to_start_without_usable_keys_and_says_how_in_both_languages(
    tmp_path: Path, case: str
) -> None:
    name, content, file_mode, setting = CASES[case]
    keys = broken(tmp_path, name, content, file_mode)
    env = {"SHAKTI_KEYS_DIR": str(keys), "SHAKTI_DATA_DIR": str(tmp_path / "var")}
    code, out = invoke("up", env=env)
    assert code == 2, out
    flat = " ".join(out.split())
    assert "shakti keys init" in flat and setting in flat and "शुरू नहीं हो सकता" in flat, out
    assert not (tmp_path / "var" / "nats").exists()  # refused before anything started


def test_the_retired_secret_setting_is_refused_not_silently_ignored(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(keys_dir=keys))
    env = {"SHAKTI_KEYS_DIR": str(keys), "SHAKTI_SECRET_KEY": "change-me-in-production"}
    for command in (["up"], ["serve", "intake"], ["serve", "web"]):
        code, out = invoke(*command, env=env)
        assert code == 2 and "SHAKTI_SECRET_KEY" in out and "shakti keys init" in " ".join(out.split())


def test_serve_checks_only_the_keys_its_parts_need(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(keys_dir=keys))
    (keys / "signing.key").unlink()
    settings = PlatformSettings(keys_dir=keys)
    # A service verifies with the public key only; the web front must sign, and training needs its key.
    check_keys(settings, keys_needed(issues_tokens=False, services=("intake", "routing", "escalation")))
    with pytest.raises(KeyProblem):
        check_keys(settings, keys_needed(issues_tokens=True, services=()))
    (keys / "certificate.key").unlink()
    with pytest.raises(KeyProblem):
        check_keys(settings, keys_needed(issues_tokens=False, services=("training",)))
    code, out = invoke("serve", "web", env={"SHAKTI_KEYS_DIR": str(keys)})
    assert code == 2 and "SHAKTI_SIGNING_KEY_FILE" in " ".join(out.split())


def test_only_the_web_front_loads_the_signing_key(tmp_path: Path, nats_url: str) -> None:
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(keys_dir=keys))
    (keys / "signing.key").unlink()
    settings = PlatformSettings(keys_dir=keys, data_dir=tmp_path)
    build_platform(settings, [], web=False)  # a service process: no signing key, no complaint
    with pytest.raises(KeyProblem) as refused:
        build_platform(settings, [], web=True, nats_url=nats_url)
    assert "signing.key" in refused.value.en and refused.value.hi


async def test_up_demo_makes_its_own_keys_in_the_data_directory(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("SHAKTI_")},
        "SHAKTI_DATA_DIR": str(tmp_path / "var"), "SHAKTI_HTTP_PORT": str(port),
        "SHAKTI_NATS_PORT": str(free_port()), "SHAKTI_DEMO_HISTORY_DAYS": "0",
    }  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "shakti"), "up", "--demo", cwd=tmp_path, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"

    async def demo_user_signs_in() -> bool:
        try:
            async with httpx.AsyncClient(base_url=url) as client:
                answer = await client.post(
                    "/api/auth/token", json={"username": "demo.sp", "password": "shakti-demo-2026"}
                )
                return answer.status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await eventually(demo_user_signs_in, timeout=120, what="the demo's users can sign in")
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)
    keys = tmp_path / "var" / "keys"
    assert sorted(p.name for p in keys.iterdir()) == sorted(FILES)
    assert all(mode(keys / name) == 0o600 for name in FILES)
    assert not (tmp_path / "keys").exists()  # nothing beside the data directory
