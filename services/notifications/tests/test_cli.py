"""`shakti notifications list|retry` against a running platform (real NATS, real HTTP, a local SMS
gateway that refuses): a message no try got through is parked, listed, and sent by the retry."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from services.notifications.main import Notifications, build_service
from services.notifications.policy import DEFAULT_POLICY
from shakti.cli import app as cli
from shakti.config import PlatformSettings
from shakti.launcher import running
from shakti.platform import build_platform
from shared.contracts.notifications import NotificationChannel
from shared.natsserver import free_port
from shared.runtime import ServiceRunner
from tests.sessions import keys_for_tests
from tests.waiting import eventually

from .conftest import Gateway
from .test_channels import requested


async def test_a_parked_message_is_listed_and_sent_by_the_retry(
    nats_url: str, tmp_path: Path, gateway: Gateway
) -> None:
    gateway.failures = 1000
    policy = yaml.safe_load(DEFAULT_POLICY.read_text())
    policy["delivery"] = {"attempts": 2, "first_backoff": "0.05s", "backoff_factor": 2, "timeout": "1s"}
    (tmp_path / "policy.yaml").write_text(yaml.safe_dump(policy))
    contacts = {"contacts": {"officer:PNO100001": {"phone": "+919000000001", "language": "hi"}}}
    (tmp_path / "contacts.yaml").write_text(yaml.safe_dump(contacts))
    env = {
        "SHAKTI_KEYS_DIR": str(keys_for_tests()),
        "SHAKTI_DATA_DIR": str(tmp_path),
        "SHAKTI_HTTP_PORT": str(free_port()),
        "COLUMNS": "200",
    }
    settings = PlatformSettings(
        keys_dir=keys_for_tests(), data_dir=tmp_path, http_port=int(env["SHAKTI_HTTP_PORT"])
    )
    definition = build_service(
        tmp_path / "policy.yaml", sms_url=gateway.url, contacts=tmp_path / "contacts.yaml"
    )
    runner = ServiceRunner(definition, settings, nats_url=nats_url)
    app = build_platform(settings, [runner])

    async def shakti(*args: str) -> tuple[int, str]:
        result = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env, catch_exceptions=False)
        # Standard output alone: the platform runs in this process and may log to standard error meanwhile.
        return result.exit_code, result.stdout

    async with running(settings, app):
        wanted = requested(NotificationChannel.SMS)
        # Recorded as the service records a decision: the process that stores it hands it over.
        assert isinstance(runner.instance, Notifications)
        await runner.instance.decisions.record([wanted])

        async def parked() -> bool:
            code, out = await shakti("notifications", "list", "--json")
            assert code == 0, out
            return [m["notification_id"] for m in json.loads(out)["parked"]] == [wanted.notification_id]

        await eventually(parked, 20, "the message parked and listed")
        code, out = await shakti("notifications", "list")
        assert code == 0 and wanted.notification_id in out and "http_503" in out and "parked: 1" in out, out
        assert len(gateway.requests) == 2 and gateway.accepted == []
        code, out = await shakti("status")
        assert "notifications: messages_parked 1, messages_retrying 0" in out, out

        code, out = await shakti("notifications", "retry")
        assert code == 2 and "still parked 1" in out, out
        gateway.failures = 0
        code, out = await shakti("notifications", "retry", wanted.notification_id)
        assert code == 0 and "sent 1, handed to intake 0 (a complainant's SMS), still parked 0" in out, out
        assert len(gateway.accepted) == 1 and gateway.accepted[0]["reference"] == wanted.notification_id

        async def none_parked() -> bool:
            code, out = await shakti("notifications", "list", "--json")
            return code == 0 and json.loads(out)["parked"] == []

        await eventually(none_parked, 20, "nothing parked after the retry")
