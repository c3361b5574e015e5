"""The image of deploy/Dockerfile and the stack of deploy/compose.yaml, built and run here.

No image registry is reachable here, so tests/images.py builds the base from Debian's packages and the
image from wheels made on the host. Every container uses the host's network (all traffic on loopback).
Where no Docker engine answers and none can be started, these tests fail and say why: they are never
skipped (CI here can start one: .ci/run installs Debian's docker.io and debootstrap, ``make engine``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import nats
import pytest
import yaml

from bench.e2e import Load
from shakti.config import PlatformSettings
from shared.keys import init_keys
from shared.natsserver import free_port
from tests.deployment import PARTS, ROOT, Site, ready, start
from tests.images import Engine, EngineUnavailable, Images, build_images, start_engine
from tests.test_cluster import replicas_current
from tests.waiting import eventually

DEPLOY = ROOT / "deploy"
IMAGE_USER = 10001
"""The image's user (deploy/Dockerfile): what it writes to must be its own."""


@pytest.fixture(scope="module")
def engine() -> Engine:
    """The engine is left running when the tests end: another test run may be using it (it keeps its
    images either way)."""
    try:
        return start_engine()
    except EngineUnavailable as error:
        pytest.fail(f"no Docker engine, so the image cannot be built or run here: {error}")


@pytest.fixture(scope="module")
def images(engine: Engine, pytestconfig: pytest.Config) -> Images:
    built = build_images(engine)
    steps = ", ".join(f"{step} {seconds} s" for step, seconds in engine.timings.items()) or "all cached"
    # Seen in CI's output: how long a cold and a warm build take.
    capture = pytestconfig.pluginmanager.get_plugin("capturemanager")
    reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            reporter.write_line(f"images {built.app}, {built.postgres}, {built.base}: {steps}")
    return built


@pytest.fixture
def container_home() -> Iterator[Path]:
    """A folder the image's user can write, bind-mounted into containers at the same path (pytest's own
    temporary folders are closed to other users)."""
    home = Path(tempfile.mkdtemp(prefix="shakti-site-"))
    os.chmod(home, 0o755)
    os.chown(home, IMAGE_USER, IMAGE_USER)
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


def docker_run(engine: Engine, image: str, name: str, env: dict[str, str], mounts: list[Path]) -> list[str]:
    """``docker run`` of ``image`` on the host's network; the command follows."""
    return [
        shutil.which("docker") or "docker", "run", "--rm", "--name", name, "--network", "host",
        *(arg for path in mounts for arg in ("--volume", f"{path}:{path}")),
        *(arg for key, value in env.items() for arg in ("--env", f"{key}={value}")),
        image,
    ]  # fmt: skip


async def test_each_part_runs_from_the_image(
    engine: Engine,
    images: Images,
    nats_url: str,
    parts_database_url: str,
    container_home: Path,
    tmp_path: Path,
) -> None:
    """``shakti serve PART`` in a container of the image, against the test NATS and PostgreSQL, until
    ``/readyz`` answers 200; stopped as Docker stops it (SIGTERM), it exits 0."""
    site = Site(nats_url, parts_database_url, container_home)
    run = f"shakti-test-{uuid.uuid4().hex[:8]}"
    site.prepare(
        [
            *docker_run(
                engine, images.app, f"{run}-prepare", {"SHAKTI_KEYS_DIR": str(site.keys)}, [container_home]
            ),
            "shakti",
        ],
        engine.environment(),
    )
    started = []
    try:
        for part in PARTS:
            port = free_port()
            command = docker_run(
                engine, images.app, f"{run}-{part}", site.environment(part, port), [container_home]
            )
            started.append(
                start([*command, "shakti", "serve", part], part, engine.environment(), tmp_path, port)
            )
        for running in started:
            await running.until_ready(timeout=180)
    finally:
        stopped = {part.part: part.stop() for part in started}
    assert stopped == dict.fromkeys(PARTS, 0), {part.part: part.output() for part in started}


# ---- compose ---------------------------------------------------------------------------------


def compose_client(engine: Engine) -> list[str]:
    """``docker compose`` (v2) where the docker client has it, else Debian 12's ``docker-compose`` (1.29)."""
    docker = shutil.which("docker")
    if (
        docker
        and subprocess.run(
            [docker, "compose", "version"], capture_output=True, env=engine.environment()
        ).returncode
        == 0
    ):
        return [docker, "compose"]
    if found := shutil.which("docker-compose"):
        return [found]
    pytest.fail(
        "no compose client: install Debian's docker-compose (make engine) or the docker compose plugin"
    )


def example_settings() -> dict[str, str]:
    settings = {}
    for line in (DEPLOY / "env.example").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            settings[key] = value
    return settings


PART_KEYS = {
    "intake": ("signing.pub", "kek.key", "phone-index.key"),
    "routing": ("signing.pub",),
    "escalation": ("signing.pub",),
    "training": ("signing.pub", "certificate.key"),
    "notifications": ("signing.pub",),
    "web": ("signing.key", "signing.pub"),
}
"""Which key files each part's folder holds (deploy/README.md, "Keys and sessions")."""


def part_key_folders(keys: Path, into: Path) -> Path:
    """The compose stack's key folders, made as deploy/README.md tells an operator to: one folder per
    part with only that part's files, owned by the image's user, mode 0600."""
    for part, names in PART_KEYS.items():
        folder = into / part
        folder.mkdir(parents=True)
        os.chown(folder, IMAGE_USER, IMAGE_USER)
        for name in names:
            shutil.copy(keys / name, folder / name)
            os.chown(folder / name, IMAGE_USER, IMAGE_USER)
            os.chmod(folder / name, 0o600)
    return into


def gateway_certificate(into: Path) -> Path:
    """A self-signed pair for the gateway, by the command deploy/README.md gives."""
    into.mkdir(mode=0o755)
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-sha256", "-days", "1", "-nodes",
         "-keyout", str(into / "tls.key"), "-out", str(into / "tls.crt"), "-subj", "/CN=localhost"],
        check=True, capture_output=True,
    )  # fmt: skip
    return into


def stack_settings(images: Images, keys_host_dir: Path) -> dict[str, str]:
    """deploy/env.example with every secret new, every port free, the gateway on loopback only and the
    images built here: a stack that shares the host with anything else running on it."""
    settings = {}
    for key, value in example_settings().items():
        if key.endswith("_PORT"):
            value = str(free_port())
        elif value == "replace-me":
            value = secrets.token_hex(16)
        settings[key] = value
    return settings | {
        "COMPOSE_PROJECT_NAME": f"shakti-test-{uuid.uuid4().hex[:8]}",
        "GATEWAY_ADDRESS": "127.0.0.1",
        "SHAKTI_KEYS_HOST_DIR": str(keys_host_dir),
        "SHAKTI_TLS_HOST_DIR": str(gateway_certificate(keys_host_dir.parent / "tls")),
        "SHAKTI_IMAGE": images.app,
        "SHAKTI_POSTGRES_IMAGE": images.postgres,
        "SHAKTI_GATEWAY_IMAGE": images.gateway,
    }


class Stack:
    """deploy/compose.yaml brought up with ``settings`` (written as its env file)."""

    def __init__(self, engine: Engine, settings: dict[str, str], folder: Path) -> None:
        self.engine = engine
        self.settings = settings
        self.keys: Path | None = None
        """The site's key files, from which each part's folder was made."""
        self.env_file = folder / "stack.env"
        self.env_file.write_text("".join(f"{k}={v}\n" for k, v in settings.items()))
        self.compose = [
            *compose_client(engine),
            "-f",
            str(DEPLOY / "compose.yaml"),
            "--env-file",
            str(self.env_file),
        ]

    def __call__(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*self.compose, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.engine.environment(),
        )
        assert result.returncode == 0, f"compose {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
        return result

    def url(self, port_setting: str) -> str:
        return f"http://127.0.0.1:{self.settings[port_setting]}"

    def logs(self) -> str:
        with contextlib.suppress(Exception):
            # Each part's state first: which one was unhealthy or gone, then what they said.
            every = self("ps", timeout=60).stdout + self("logs", "--no-color", timeout=60).stdout
            kept = self.env_file.parent / "stack.log"
            kept.write_text(every)
            return f"{every[-15000:]}\n(all of it in {kept})"
        return ""


@pytest.fixture
def stack(engine: Engine, images: Images, tmp_path: Path, container_home: Path) -> Iterator[Stack]:
    keys = tmp_path / "keys"
    init_keys(PlatformSettings(keys_dir=keys, kek_file=keys / "kek.key"))  # not the test run's KEK
    stack = Stack(engine, stack_settings(images, part_key_folders(keys, container_home / "keys")), tmp_path)
    stack.keys = keys
    try:
        yield stack
    finally:
        subprocess.run(
            [*stack.compose, "down", "--volumes", "--timeout", "30"],
            capture_output=True, timeout=300, env=engine.environment(),
        )  # fmt: skip


class Gateway:
    """The stack's gateway, as the bench's load sees a platform: its operator console's tokens are
    signed with the site's signing key."""

    def __init__(self, url: str, keys: Path) -> None:
        self.url = url
        self.keys = keys
        self.alive = True


async def gateway_answers(url: str) -> bool:
    """The gateway passes /healthz through (it keeps /readyz, like every operational path, inside)."""
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            return (await client.get(f"{url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


async def signed_in_sp(load: Load) -> dict[str, str]:
    """The district's SP, added by the operator console and signed in through the gateway."""
    password = secrets.token_hex(12)
    body = {"username": "compose.sp", "password": password, "role": "sp", "district": "SJP"}
    added = await load.client.post("/api/users", json=body, headers=load.operator)
    assert added.status_code == 201, added.text
    signed_in = await load.client.post(
        "/api/auth/token", json={"username": "compose.sp", "password": password}
    )
    assert signed_in.status_code == 200, signed_in.text
    return {"Authorization": f"Bearer {signed_in.json()['token']}"}


async def assigned_officer(client: httpx.AsyncClient, case_id: str, supervisor: dict[str, str]) -> str | None:
    response = await client.get(f"/api/intake/cases/{case_id}", headers=supervisor)
    if response.status_code != 200:
        return None
    officer: str | None = response.json().get("assigned_officer")
    return officer


async def test_the_compose_stack_registers_and_assigns_cases_with_a_nats_node_stopped(stack: Stack) -> None:
    """Three NATS nodes, PostgreSQL, each service in its two roles, the web front and the gateway, from
    deploy/compose.yaml as it is. A case registered through the gateway is assigned; with one NATS node
    stopped, another case is registered and assigned too (R3 streams keep a quorum of two)."""
    ports = [
        k
        for k in stack.settings
        if k.endswith("_PORT") and not k.startswith(("NATS_", "POSTGRES", "GATEWAY_"))
    ]
    try:
        stack("up", "--detach", "--no-build")
        for port in ports:
            await eventually(partial(ready, stack.url(port)), 300, f"{port} answers /readyz")
        await eventually(lambda: gateway_answers(stack.url("GATEWAY_PORT")), 60, "the gateway answers")
        assert stack.keys is not None
        load = Load(Gateway(stack.url("GATEWAY_PORT"), stack.keys))  # type: ignore[arg-type]
        await load.prepare()
        supervisor = await signed_in_sp(load)

        async def registered_and_assigned(n: int) -> str:
            # As a client does while the cluster elects leaders after a node stopped: a 503 is sent
            # again, with the same key, after the time it asks for.
            for _ in range(30):
                response = await load.post_complaint(n, f"compose-case-{n}")
                if response.status_code != 503:
                    break
                await asyncio.sleep(int(response.headers.get("retry-after", "2")))
            assert response.status_code == 201, response.text
            case_id: str = response.json()["case_id"]

            async def assigned() -> bool:
                return bool(await assigned_officer(load.client, case_id, supervisor))

            await eventually(assigned, 120, f"case {n} assigned, seen through the gateway")
            return case_id

        await registered_and_assigned(1)
        ops = await nats.connect(
            f"nats://127.0.0.1:{stack.settings['NATS_1_PORT']}",
            user="ops",
            password=stack.settings["SHAKTI_NATS_OPS_PASSWORD"],
        )
        await eventually(lambda: replicas_current(ops, "INTAKE"), 60, "INTAKE on all three nodes")
        stack("stop", "nats-2", timeout=120)

        async def one_replica_offline() -> bool:
            cluster = (await ops.jetstream().stream_info("INTAKE")).cluster
            return cluster is not None and any(peer.offline for peer in cluster.replicas or [])

        await eventually(one_replica_offline, 60, "the cluster sees nats-2 gone")
        await registered_and_assigned(2)
        await ops.close()
        await load.client.aclose()
    except BaseException:
        print(stack.logs())
        raise


def test_the_gateway_configuration_names_every_port_compose_gives_it() -> None:
    """nginx reads no environment: compose's gateway command substitutes exactly the variables the file
    uses, and gives each of them to the container."""
    conf = (DEPLOY / "gateway" / "nginx.conf").read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)\}", conf))
    gateway: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]["gateway"]
    substituted = set(re.findall(r"\$\$\{([A-Z_]+)\}", gateway["command"][-1]))
    assert used == substituted == set(gateway["environment"])


def test_every_key_folder_compose_mounts_is_made_by_the_stack_test() -> None:
    """A part added to compose with a key folder of its own gets its files here too (a part without
    them refuses to start, and the stack never becomes ready)."""
    mounted = set(
        re.findall(r"\$\{SHAKTI_KEYS_HOST_DIR:-\./keys\}/(\w+):", (DEPLOY / "compose.yaml").read_text())
    )
    assert mounted == set(PART_KEYS)
