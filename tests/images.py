"""A Docker engine and the images of deploy/, on a machine that reaches no image registry.

The engine: ``DOCKER_HOST`` if set and answering; else the tests' own engine at ``ENGINE_SOCKET`` if it
answers; else, as root with Debian's ``docker.io`` installed (``make engine``), a ``dockerd`` started
here on that socket, with its data in ``/var/lib/shakti-docker`` (images stay cached between runs) and
no bridge and no iptables rules: a container can only use the host's network, so every byte stays on
loopback. It does not touch the default socket, so other Docker users of the machine see nothing, and
it keeps running after the tests (another run may be using it).

The images, each tagged by a key of what it is made from, so that an unchanged image is not built again:

- the base, ``shakti-debian:KEY``: Debian bookworm from Debian's packages (``debootstrap`` minbase with
  python3 and venv, tzdata, nginx-light and gettext-base for the gateway, postgresql-15 for the
  PostgreSQL stand-in), imported with ``docker import``;
- ``mission-shakti:KEY``: ``deploy/Dockerfile`` on that base, from wheels that ``pip wheel`` makes on
  the host (the build itself runs without a network);
- ``shakti-postgres:KEY``: ``deploy/debian/postgres.Dockerfile``, the official image's interface on
  Debian's PostgreSQL, for the compose stack.

    python -m tests.images     # start the engine if needed, build what is missing, print the tags
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]

from tests.deployment import ROOT, build_wheels

log = logging.getLogger(__name__)

ENGINE_SOCKET = Path("/run/shakti-docker/docker.sock")
ENGINE_DATA = Path("/var/lib/shakti-docker")
DEBIAN_MIRROR = os.environ.get("SHAKTI_DEBIAN_MIRROR", "http://deb.debian.org/debian")
DEBIAN = {
    "suite": "bookworm",
    "variant": "minbase",
    "packages": ["python3", "python3-venv", "tzdata", "nginx-light", "gettext-base", "postgresql-15"],
    # Nothing a container needs: package archives, documentation, translations.
    "trim": [
        "var/cache/apt/archives",
        "var/lib/apt/lists",
        "usr/share/doc",
        "usr/share/man",
        "usr/share/locale",
    ],
}


class EngineUnavailable(RuntimeError):
    """No Docker engine answers and none can be started here; the message says why and what to do."""


def _answers(host: str) -> bool:
    try:
        client = docker.DockerClient(base_url=host, timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


@dataclass
class Engine:
    host: str
    """The ``DOCKER_HOST`` value that reaches it."""
    process: subprocess.Popen[bytes] | None = None
    """The ``dockerd`` started here, if it was."""
    timings: dict[str, float] = field(default_factory=dict)
    """Seconds each build step took in this run (for the report: cold and warm builds)."""

    @property
    def client(self) -> Any:
        return docker.DockerClient(base_url=self.host, timeout=600)

    def environment(self) -> dict[str, str]:
        """For the docker and compose command-line clients."""
        return {**os.environ, "DOCKER_HOST": self.host}

    def stop(self) -> None:
        """Stop the dockerd started here (only when it failed to start: a running one is left running)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_engine() -> Engine:
    """An engine that answers; raises ``EngineUnavailable`` with the reason when there can be none."""
    candidates = [os.environ.get("DOCKER_HOST"), f"unix://{ENGINE_SOCKET}"]
    for host in candidates:
        if host and _answers(host):
            return Engine(host)
    if os.environ.get("DOCKER_HOST"):
        raise EngineUnavailable(f"DOCKER_HOST={os.environ['DOCKER_HOST']} does not answer")
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        raise EngineUnavailable(
            "no Docker engine answers and dockerd is not installed: install Debian's docker.io "
            "(make engine), or set DOCKER_HOST to an engine"
        )
    if os.geteuid() != 0:
        raise EngineUnavailable("no Docker engine answers and only root can start dockerd here")
    ENGINE_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    log_file = ENGINE_DATA.with_suffix(".log")
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            [
                dockerd,
                "--host", f"unix://{ENGINE_SOCKET}",
                "--exec-root", str(ENGINE_SOCKET.parent / "exec"),
                "--pidfile", str(ENGINE_SOCKET.parent / "dockerd.pid"),
                "--data-root", str(ENGINE_DATA),
                "--bridge", "none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
            ],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    engine = Engine(f"unix://{ENGINE_SOCKET}", process)
    deadline = time.monotonic() + 60
    while not _answers(engine.host):
        if process.poll() is not None or time.monotonic() > deadline:
            engine.stop()
            tail = log_file.read_text(errors="replace")[-2000:]
            raise EngineUnavailable(f"dockerd did not start (exit {process.returncode}); {log_file}:\n{tail}")
        time.sleep(0.5)
    return engine


def _key(*parts: object) -> str:
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, Path):
            files = sorted(p for p in part.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            for path in files if part.is_dir() else [part]:
                digest.update(str(path.relative_to(ROOT)).encode())
                digest.update(path.read_bytes())
        else:
            digest.update(json.dumps(part, sort_keys=True).encode())
    return digest.hexdigest()[:12]


def _exists(client: Any, tag: str) -> bool:
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False
    return True


@contextlib.contextmanager
def _timed(engine: Engine, step: str) -> Iterator[None]:
    started = time.monotonic()
    yield
    engine.timings[step] = round(time.monotonic() - started, 1)
    log.info("%s: %.1f s", step, engine.timings[step])


def base_image(engine: Engine) -> str:
    tag = f"shakti-debian:{_key(DEBIAN)}"
    client = engine.client
    if _exists(client, tag):
        return tag
    if shutil.which("debootstrap") is None:
        raise EngineUnavailable("debootstrap is not installed: install Debian's debootstrap (make engine)")
    with (
        _timed(engine, "base image (debootstrap, docker import)"),
        tempfile.TemporaryDirectory(dir="/var/tmp") as tmp,
    ):
        root = Path(tmp) / "root"
        result = subprocess.run(
            ["debootstrap", f"--variant={DEBIAN['variant']}", f"--include={','.join(DEBIAN['packages'])}",
             str(DEBIAN["suite"]), str(root), DEBIAN_MIRROR],
            capture_output=True, text=True,
        )  # fmt: skip
        if result.returncode:
            raise RuntimeError(f"debootstrap failed:\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
        for trimmed in DEBIAN["trim"]:
            shutil.rmtree(root / trimmed, ignore_errors=True)
        archive = Path(tmp) / "root.tar"
        subprocess.run(["tar", "-C", str(root), "--numeric-owner", "-cf", str(archive), "."], check=True)
        repository, name = tag.split(":")
        client.api.import_image_from_file(
            str(archive), repository=repository, tag=name, changes=["ENV LANG=C.UTF-8", 'CMD ["bash"]']
        )
    return tag


KIND_LABEL = "org.missionshakti.test-image"
"""Marks the images built here from the project's files, which a later build may prune."""


def _build(engine: Engine, tag: str, dockerfile: str, context: Path, base: str) -> None:
    try:
        engine.client.images.build(
            path=str(context), dockerfile=dockerfile, tag=tag, buildargs={"BASE": base},
            network_mode="none", rm=True, forcerm=True, pull=False, labels={KIND_LABEL: tag.split(":")[0]},
        )  # fmt: skip
    except docker.errors.BuildError as error:
        lines = "".join(str(chunk.get("stream", chunk.get("error", ""))) for chunk in error.build_log)
        raise RuntimeError(f"docker build of {tag} failed: {error}\n{lines[-4000:]}") from None


def app_image(engine: Engine, base: str) -> str:
    """``deploy/Dockerfile`` on ``base`` from wheels built here, as ``make image`` does at the root."""
    shipped = [ROOT / "pyproject.toml", *(ROOT / p for p in ("shared", "services", "shakti"))]
    tag = f"mission-shakti:{_key(base, ROOT / 'deploy' / 'Dockerfile', ROOT / 'deploy' / 'migrations', *shipped)}"
    if _exists(engine.client, tag):
        return tag
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        with _timed(engine, "wheels (pip wheel on the host)"):
            build_wheels(context / "build" / "wheels")
        shutil.copytree(ROOT / "deploy" / "migrations", context / "deploy" / "migrations",
                        ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
        shutil.copy(ROOT / "deploy" / "Dockerfile", context / "deploy" / "Dockerfile")
        with _timed(engine, "mission-shakti image (docker build)"):
            _build(engine, tag, "deploy/Dockerfile", context, base)
    # Every change of the sources makes a new image: those of other sources, unused for a day, go.
    engine.client.images.prune(
        filters={"dangling": False, "until": "24h", "label": f"{KIND_LABEL}=mission-shakti"}
    )
    return tag


def postgres_image(engine: Engine, base: str) -> str:
    here = ROOT / "deploy" / "debian"
    tag = f"shakti-postgres:{_key(base, here / 'postgres.Dockerfile', here / 'postgres-entrypoint.sh')}"
    if _exists(engine.client, tag):
        return tag
    with tempfile.TemporaryDirectory() as tmp:
        context = Path(tmp)
        shutil.copytree(here, context / "deploy" / "debian")
        with _timed(engine, "PostgreSQL stand-in image (docker build)"):
            _build(engine, tag, "deploy/debian/postgres.Dockerfile", context, base)
    return tag


@dataclass(frozen=True)
class Images:
    base: str
    app: str
    postgres: str

    @property
    def gateway(self) -> str:
        """The base has nginx and envsubst, all that compose's gateway command uses."""
        return self.base


def build_images(engine: Engine) -> Images:
    base = base_image(engine)
    return Images(base, app_image(engine, base), postgres_image(engine, base))


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engine = start_engine()
    try:
        images = build_images(engine)
    finally:
        if engine.process is not None:
            print(
                f"the engine started here keeps running at DOCKER_HOST={engine.host} (pid {engine.process.pid})"
            )
    print(json.dumps({"DOCKER_HOST": engine.host, **images.__dict__, "gateway": images.gateway}, indent=2))
    sys.exit(0)
