"""deploy/: what can be checked without a container engine or a Kubernetes cluster (the image and the
compose stack are built and run in test_image.py).

The compose file against the Compose specification's schema and the compose client, the Kubernetes manifests rendered by kustomize against the Kubernetes schemas (strict:
an unknown field is an error), the NATS node configuration by starting a three-node cluster from it,
and the agreements between the files (names, secrets, settings) that no schema sees.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import kubernetes_validate
import pytest
import yaml
from typer.testing import CliRunner

from shakti import launcher
from shakti.basics import SERVICES
from shakti.cli import app as cli
from shakti.config import PlatformSettings
from shared.eventstore import EventStore
from shared.natsserver import free_port, nats_server_binary
from tests.test_cluster import NatsCluster, replicas_current, until_placed
from tests.waiting import eventually

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
NATS_CONF = DEPLOY / "nats" / "nats-server.conf"
ACCOUNTS = DEPLOY / "nats" / "accounts.conf"
KUBERNETES_VERSION = "1.32.0"
PARTS = (*SERVICES, "web")
SETTINGS = {f"SHAKTI_{name.upper()}" for name in PlatformSettings.model_fields}


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def account_variables() -> set[str]:
    return set(re.findall(r"\$(SHAKTI_NATS_[A-Z]+_PASSWORD)", ACCOUNTS.read_text()))


def example_settings() -> dict[str, str]:
    lines = (DEPLOY / "env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#") and "=" in line)


def as_compose_gives(env: dict[str, str]) -> dict[str, str]:
    """``env`` with deploy/env.example's values put in, as compose interpolates it."""
    example = example_settings()
    return {
        k: re.sub(r"\$\{([A-Z0-9_]+)[^}]*\}", lambda m: example[m.group(1)], str(v)) for k, v in env.items()
    }


def keeper(service: str) -> str:
    """The name of the process that keeps ``service``'s read models (reactions off)."""
    return f"{service}-read-model"


def roles(command: list[str], env: dict[str, str]) -> tuple[str, bool, bool] | None:
    """What a container's ``shakti serve`` runs: (service, keeps read models, reacts); None if no service.

    Decided by the CLI itself, given the container's command and environment alone (launcher.run
    replaced). A compose command is ``sh -c "migrate.sh ... && exec shakti serve ..."``."""
    if command[:2] == ["sh", "-c"]:
        command = shlex.split(command[2].rsplit("&& exec ", 1)[-1])
    if command[:2] != ["shakti", "serve"]:
        return None
    seen: list[tuple[tuple[str, ...], bool, bool]] = []

    def run(config: PlatformSettings, names: tuple[str, ...], web: bool) -> None:
        seen.append((names, config.projections, config.reactions))

    only = {name: None for name in os.environ if name.startswith("SHAKTI_")} | env
    with (
        mock.patch.object(launcher, "run", run),
        mock.patch("shakti.cli.settings", lambda: PlatformSettings(_env_file=None)),
        # The key files are mounted into the containers, not here (tests/security/test_keys.py).
        mock.patch("shakti.cli.check_keys", lambda *_: None),
    ):
        result = CliRunner().invoke(cli, command[1:], env=only)
    assert result.exit_code == 0, result.output
    ((names, projections, reactions),) = seen
    if not names:
        return None
    (service,) = names
    return service, projections, reactions


# ---- compose ---------------------------------------------------------------------------------


def test_compose_file_follows_the_compose_specification() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(COMPOSE)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_client_accepts_it(tmp_path: Path) -> None:
    """``docker compose config`` (or Debian 12's docker-compose 1.29, which the test stack uses: it knows
    no top-level ``name``) reads the file with the example settings; no engine is needed."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        clients = [[docker, "compose"]]
    else:
        clients = []
    if found := shutil.which("docker-compose"):
        clients.append([found])
    assert clients, "no compose client: install Debian's docker-compose (make engine)"
    env_file = tmp_path / ".env"
    env_file.write_text((DEPLOY / "env.example").read_text())
    for client in clients:
        result = subprocess.run(
            [*client, "-f", str(COMPOSE), "--env-file", str(env_file), "config", "--quiet"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_compose_runs_a_three_node_nats_cluster_from_one_config() -> None:
    """Three nodes on the host's network from one config: each at its own ports, routed to the others."""
    services = compose()["services"]
    nodes = {name: s for name, s in services.items() if name.startswith("nats-")}
    assert sorted(nodes) == ["nats-1", "nats-2", "nats-3"]
    for name, node in nodes.items():
        n = name.removeprefix("nats-")
        others = sorted(set("123") - {n})
        command = node["command"]
        assert command[:2] == ["-c", "/etc/nats/nats-server.conf"]
        assert command[command.index("-p") + 1].startswith(f"${{NATS_{n}_PORT")
        assert command[command.index("-m") + 1].startswith(f"${{NATS_{n}_MONITOR_PORT")
        assert command[command.index("--cluster") + 1].startswith(
            f"nats://127.0.0.1:${{NATS_{n}_CLUSTER_PORT"
        )
        assert command[command.index("--routes") + 1] == ",".join(
            f"nats://127.0.0.1:${{NATS_{o}_CLUSTER_PORT}}" for o in others
        )
        assert node["environment"]["NATS_SERVER_NAME"] == name
        assert node["environment"]["NATS_MONITOR_PORT"] == f"${{NATS_{n}_MONITOR_PORT}}"
        assert "./nats/nats-server.conf:/etc/nats/nats-server.conf:ro" in node["volumes"]
        assert "./nats/accounts.conf:/etc/nats/accounts.conf:ro" in node["volumes"]
        assert set(node["environment"]) >= account_variables()
        assert f"{name}:/var/lib/shakti" in node["volumes"], (
            "each node keeps its JetStream files in its own volume"
        )
        assert "-sd /var/lib/shakti/jetstream" in " ".join(command)


def test_every_container_uses_the_hosts_network_and_listens_on_loopback() -> None:
    """No bridge network: all traffic between the containers stays on the host's loopback, and only the
    gateway listens where people reach it."""
    conf = NATS_CONF.read_text()
    assert re.search(r"^listen: 127\.0\.0\.1:", conf, flags=re.MULTILINE)
    assert re.search(r"^http: 127\.0\.0\.1:", conf, flags=re.MULTILINE)
    assert re.search(r"^\s*listen: 127\.0\.0\.1:", conf.split("cluster {")[1], flags=re.MULTILINE)
    services = compose()["services"]
    assert "networks" not in compose()
    for name, service in services.items():
        assert service["network_mode"] == "host", name
        assert "ports" not in service and "networks" not in service, name
        env = service.get("environment", {})
        if "SHAKTI_HTTP_PORT" in env:
            assert env["SHAKTI_HTTP_HOST"] == "127.0.0.1", name
    assert services["postgres"]["command"] == ["postgres", "-c", "listen_addresses=127.0.0.1"]
    ports = [
        s["environment"]["SHAKTI_HTTP_PORT"]
        for s in services.values()
        if "SHAKTI_HTTP_PORT" in s.get("environment", {})
    ]
    assert len(ports) == len(set(ports)), "two processes on one port"


def test_each_service_has_its_own_nats_user_and_database() -> None:
    services = compose()["services"]
    for name in SERVICES:
        service = services[name]
        env = service["environment"]
        assert service["command"][-1].endswith(f"migrate.sh {name} && exec shakti serve {name}")
        assert env["SHAKTI_PROJECTIONS"] == "false", f"{keeper(name)} keeps the read models, not {name}"
        assert env["SHAKTI_NATS_URL"].startswith("nats://127.0.0.1:")
        assert env["SHAKTI_NATS_PASSWORD"] == f"${{SHAKTI_NATS_{name.upper()}_PASSWORD}}"
        assert env["SHAKTI_DATABASE_URL"].startswith(f"postgresql+asyncpg://{name}:")
        assert env["SHAKTI_DATABASE_URL"].endswith(f"@127.0.0.1:${{POSTGRES_PORT}}/shakti_{name}")
        assert env["SHAKTI_STREAM_REPLICAS"] == "3"
        assert env["SHAKTI_HTTP_PORT"] == f"${{{name.upper()}_PORT:?set in deploy/.env}}"
    assert services["web"]["environment"]["SHAKTI_API_URL"].startswith("http://127.0.0.1:${GATEWAY_PORT")
    # Every part that connects to NATS may create a stream (the web front the user directory's, USERS):
    # on one node alone, stopping that node would stop every sign-in and every request's user lookup.
    for name, service in services.items():
        if "SHAKTI_NATS_URL" in service.get("environment", {}):
            assert service["environment"].get("SHAKTI_STREAM_REPLICAS") == "3", name


def test_each_compose_service_has_one_read_model_keeper_like_it() -> None:
    """<service> reacts and answers (scaled); <service>-read-model, one replica, keeps the read models."""
    services = compose()["services"]
    for name in SERVICES:
        decider, kept_by = services[name], services[keeper(name)]
        assert kept_by["command"][-1].endswith(
            f"migrate.sh {name} && exec shakti serve {name} --no-reactions"
        )
        # The same NATS user, database, secret and stream replicas: all but the role and the port.
        assert {k: v for k, v in kept_by["environment"].items() if k != "SHAKTI_HTTP_PORT"} == {
            k: v
            for k, v in decider["environment"].items()
            if k not in ("SHAKTI_PROJECTIONS", "SHAKTI_HTTP_PORT")
        }
        assert (
            kept_by["environment"]["SHAKTI_HTTP_PORT"]
            == f"${{{name.upper()}_READ_MODEL_PORT:?set in deploy/.env}}"
        )
        for field in ("image", "network_mode", "depends_on", "healthcheck", "restart", "stop_grace_period"):
            assert kept_by[field] == decider[field], field
    processes = {
        name: (
            roles(service.get("command", []), as_compose_gives(service.get("environment", {}))),
            1,  # one container per compose service: on the host's network each has its own port
        )
        for name, service in services.items()
    }
    _one_decider_and_one_keeper_per_service(processes)
    # The gateway reaches <service> by its name: compose gives that name to <service>'s containers only.
    assert "read-model" not in (DEPLOY / "gateway" / "nginx.conf").read_text()


def _one_decider_and_one_keeper_per_service(
    processes: dict[str, tuple[tuple[str, bool, bool] | None, int]],
) -> None:
    """Of the processes (name: (roles, replicas)) that serve each service, exactly two: <service> reacts
    and leaves the read models alone; <service>-read-model, one replica, keeps them and does not react."""
    for service in SERVICES:
        serving = {name: role for name, (role, _) in processes.items() if role and role[0] == service}
        assert serving == {service: (service, False, True), keeper(service): (service, True, False)}
        assert processes[keeper(service)][1] == 1, (
            "one keeper per service (deploy/README.md says when to run two)"
        )


def test_every_setting_compose_and_kubernetes_give_is_one_the_code_reads(
    rendered: list[dict[str, Any]],
) -> None:
    """A misspelt SHAKTI_ variable is silently ignored by pydantic-settings: catch it here."""
    given: set[str] = set()
    for service in compose()["services"].values():
        given |= {
            k for k in service.get("environment", {}) if k.startswith("SHAKTI_") and "PASSWORD" not in k
        }
    for container in _containers(rendered):
        given |= {e["name"] for e in container.get("env", []) if e["name"].startswith("SHAKTI_")}
    for doc in rendered:
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == "shakti-config":
            given |= set(doc["data"])
    assert given, "no settings found"
    assert given <= SETTINGS, f"not settings of the code: {sorted(given - SETTINGS)}"


def test_every_secret_compose_needs_is_in_the_example_env_file() -> None:
    needed = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    listed = {
        line.split("=", 1)[0] for line in (DEPLOY / "env.example").read_text().splitlines() if "=" in line
    }
    assert needed <= {name.removeprefix("# ") for name in listed}
    init = (DEPLOY / "postgres" / "init-databases.sh").read_text()
    assert all(part in init for part in PARTS)
    postgres_env = compose()["services"]["postgres"]["environment"]
    assert {f"SHAKTI_DB_{part.upper()}_PASSWORD" for part in PARTS} <= set(postgres_env)


def test_the_gateways_send_each_api_to_its_service() -> None:
    k8s_gateway = next(
        d for d in yaml.safe_load_all((K8S / "gateway.yaml").read_text()) if d["kind"] == "ConfigMap"
    )
    for conf in ((DEPLOY / "gateway" / "nginx.conf").read_text(), k8s_gateway["data"]["nginx.conf"]):
        for name in SERVICES:
            assert re.search(
                rf"location /api/{name}/ {{ proxy_pass (http://{name}:8000|\${name}|http://{name});", conf
            )
    compose_conf = (DEPLOY / "gateway" / "nginx.conf").read_text()
    for name in PARTS:
        assert f"upstream {name} {{ server 127.0.0.1:${{{name.upper()}_PORT}}; }}" in compose_conf


def test_the_image_runs_the_commands_the_deployments_give() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+)", dockerfile, flags=re.MULTILINE):
        # build/wheels is made before a build (make image; tests/images.py): the image is built in test_image.py.
        assert source == "build/wheels" or (DEPLOY.parent / source).exists(), (
            f"the Dockerfile copies {source}, which is not there"
        )
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0 and "web" in result.output
    assert os.access(DEPLOY / "migrations" / "migrate.sh", os.X_OK)


# ---- NATS ------------------------------------------------------------------------------------


@pytest.fixture
def passwords(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    values = {name: f"pw-{name.lower()}" for name in account_variables()}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NATS_SERVER_NAME", "nats-1")
    return values


def test_nats_server_accepts_the_node_configuration(passwords: dict[str, str]) -> None:
    result = subprocess.run(
        [str(nats_server_binary()), "-t", "-c", str(NATS_CONF)], capture_output=True, text=True, cwd=DEPLOY
    )
    assert result.returncode == 0, result.stderr


async def test_three_nodes_started_from_the_node_configuration_hold_an_r3_stream(
    tmp_path: Path, passwords: dict[str, str]
) -> None:
    """The compose file's nodes, on loopback: only the addresses differ (flags override the file)."""
    cluster = NatsCluster(tmp_path, node_args=lambda _: ["-c", str(NATS_CONF), "-m", str(free_port())])
    cluster.start()
    try:
        password = passwords["SHAKTI_NATS_INTAKE_PASSWORD"]
        nc = await cluster.connect("intake", user="intake", password=password, inbox_prefix="_INBOX.intake")
        store = EventStore(nc, "intake", replicas=3)
        await until_placed(store.ensure_stream)
        await eventually(lambda: replicas_current(nc, "INTAKE"), 30, "three replicas of INTAKE")
        info = await nc.jetstream().stream_info("INTAKE")
        assert info.config.num_replicas == 3
        await nc.close()
    finally:
        cluster.stop()


def test_helm_values_mount_the_same_accounts_and_give_every_password() -> None:
    values = yaml.safe_load((DEPLOY / "nats" / "helm-values.yaml").read_text())
    assert values["config"]["cluster"] == {"enabled": True, "replicas": 3}
    assert values["config"]["jetstream"]["enabled"] is True
    assert set(values["container"]["env"]) == account_variables()
    mount = values["container"]["patch"][0]["value"]["mountPath"]
    include = values["config"]["merge"]["$include"]
    assert include == "./accounts/accounts.conf" and mount == "/etc/nats-config/accounts"


# ---- Kubernetes ------------------------------------------------------------------------------


def kustomize(directory: Path) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl (for kustomize) is not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="module")
def rendered() -> list[dict[str, Any]]:
    return kustomize(K8S)


def _containers(docs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for doc in docs:
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            yield from spec.get("initContainers", [])
            yield from spec["containers"]


def _validate(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_manifests_are_valid_kubernetes(rendered: list[dict[str, Any]]) -> None:
    _validate(rendered)
    assert {d["metadata"].get("namespace") for d in rendered if d["kind"] != "Namespace"} == {
        "mission-shakti"
    }


def test_each_service_scales_on_its_own_and_answers_its_probes(rendered: list[dict[str, Any]]) -> None:
    by_kind: dict[tuple[str, str], dict[str, Any]] = {(d["kind"], d["metadata"]["name"]): d for d in rendered}
    for name in PARTS:
        deployment = by_kind[("Deployment", name)]
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["shakti", "serve", name]
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["image"] == "mission-shakti:latest"
        assert container["resources"]["requests"]["cpu"], "a CPU autoscaler needs a CPU request"
        hpa = by_kind[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["minReplicas"] <= deployment["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
        assert by_kind[("Service", name)]["spec"]["selector"] == {"app.kubernetes.io/name": name}
    for name in SERVICES:
        env = {
            e["name"]: e
            for e in by_kind[("Deployment", name)]["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["SHAKTI_NATS_URL"]["value"] == "nats://nats:4222"
        assert env["SHAKTI_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == f"nats-{name}-password"
        assert env["SHAKTI_DATABASE_URL"]["value"].endswith(f"@postgres:5432/shakti_{name}")
        assert env["SHAKTI_PROJECTIONS"]["value"] == "false", f"{keeper(name)} keeps the read models"


def _pod(deployment: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = deployment["spec"]["template"]
    return pod


def test_each_service_has_one_read_model_keeper_like_its_deployment(rendered: list[dict[str, Any]]) -> None:
    """<service>-read-model runs <service>'s pod (same image, NATS user, database, secrets, migration,
    probes, resources, security, volumes) with --no-reactions and projections on, one replica,
    neither behind the Service nor in a disruption budget nor scaled by an autoscaler."""
    by_kind: dict[tuple[str, str], dict[str, Any]] = {(d["kind"], d["metadata"]["name"]): d for d in rendered}
    selectors = [
        (d["kind"], d["metadata"]["name"], d["spec"]["selector"].get("matchLabels", d["spec"]["selector"]))
        for d in rendered
        if d["kind"] in ("Service", "PodDisruptionBudget")
    ]
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in rendered if d["kind"] == "HorizontalPodAutoscaler"}
    for name in SERVICES:
        deployment, kept_by = by_kind[("Deployment", name)], by_kind[("Deployment", keeper(name))]
        assert kept_by["spec"]["replicas"] == 1
        assert keeper(name) not in scaled, "one keeper per service (deploy/README.md says when to run two)"
        labels = _pod(kept_by)["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == keeper(name)
        assert kept_by["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": keeper(name)}
        for kind, selecting, selector in selectors:
            assert not selector.items() <= labels.items(), f"{kind} {selecting} selects {keeper(name)}"
        (container,) = _pod(kept_by)["spec"]["containers"]
        assert container["command"] == ["shakti", "serve", name, "--no-reactions"]
        # All else is the service's pod: the role, the labels and the command are the only differences.
        theirs = _pod(deployment)
        expected = {
            "metadata": {**theirs["metadata"], "labels": labels},
            "spec": {
                **theirs["spec"],
                "containers": [
                    {
                        **c,
                        "command": container["command"],
                        "env": [e for e in c["env"] if e["name"] != "SHAKTI_PROJECTIONS"],
                    }
                    for c in theirs["spec"]["containers"]
                ],
            },
        }
        assert _pod(kept_by) == expected
    config = next(
        d["data"] for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "shakti-config"
    )
    processes: dict[str, tuple[tuple[str, bool, bool] | None, int]] = {}
    for doc in rendered:
        if doc["kind"] == "Deployment":
            (container,) = _pod(doc)["spec"]["containers"]
            env = {**config, **{e["name"]: e.get("value", "") for e in container.get("env", [])}}
            role = roles(container.get("command", []), env)
            processes[doc["metadata"]["name"]] = (role, doc["spec"]["replicas"])
    _one_decider_and_one_keeper_per_service(processes)


def test_no_autoscaler_scales_on_projection_lag(rendered: list[dict[str, Any]], tmp_path: Path) -> None:
    """The read models are kept by one process each: more replicas of a service would not bring their
    lag down. Nor with any component of deploy/k8s/components (there is none now)."""
    variants = [rendered]
    for component in sorted((K8S / "components").glob("*/kustomization.yaml")):
        overlay = tmp_path / component.parent.name
        overlay.mkdir()
        base = os.path.relpath(K8S, overlay)
        (overlay / "kustomization.yaml").write_text(
            f"resources: [{base}]\ncomponents: [{os.path.relpath(component.parent, overlay)}]\n"
        )
        variants.append(kustomize(overlay))
        _validate(variants[-1])
    for docs in variants:
        for doc in docs:
            if doc["kind"] == "HorizontalPodAutoscaler":
                assert doc["spec"]["scaleTargetRef"]["name"] in PARTS
                assert "shakti_projection_lag_events" not in str(doc["spec"]["metrics"])
