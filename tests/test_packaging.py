"""What ``pip install mission-shakti`` gives, without the test extras: it must run every part.

Every module the shipped packages (shared, services, shakti) import, at the top or inside a function,
is the standard library, the project itself, or a declared runtime dependency. Then the real proof: the
wheel built from the shipped files alone, installed into a fresh virtual environment from nothing but
the wheels of its runtime dependencies, runs ``shakti serve PART`` for every part against the test NATS
and PostgreSQL until ``/readyz`` answers 200.
"""

from __future__ import annotations

import ast
import importlib.metadata
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from shared.natsserver import free_port
from tests.deployment import PARTS, ROOT, SHIPPED, Site, bare_environment, build_wheels, start

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def shipped_sources() -> Iterator[Path]:
    for package in SHIPPED:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "tests" not in path.relative_to(ROOT).parts:
                yield path


def imported_names(path: Path) -> set[str]:
    """The top-level names of every absolute import in the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def runtime_dependencies() -> set[str]:
    return {canonicalize_name(Requirement(spec).name) for spec in PROJECT["dependencies"]}


def test_every_import_of_shipped_code_is_a_declared_runtime_dependency() -> None:
    distributions = importlib.metadata.packages_distributions()
    declared = runtime_dependencies()
    undeclared: dict[str, set[str]] = {}
    for path in shipped_sources():
        for name in imported_names(path) - set(sys.stdlib_module_names) - set(SHIPPED) - {"__future__"}:
            providers = {canonicalize_name(d) for d in distributions.get(name, [])}
            assert providers, f"{path.relative_to(ROOT)} imports {name}, which no installed package provides"
            if not providers & declared:
                undeclared.setdefault(f"{name} ({', '.join(sorted(providers))})", set()).add(
                    str(path.relative_to(ROOT))
                )
    assert not undeclared, f"imported by shipped code but not in [project] dependencies: {undeclared}"


def test_the_check_reads_imports_inside_functions_too(tmp_path: Path) -> None:
    module = tmp_path / "lazy.py"
    module.write_text(
        "import os.path\n\ndef f():\n    import pytest\n    from httpx import Client\n    from . import x\n"
    )
    assert imported_names(module) == {"os", "pytest", "httpx"}
    assert "pytest" not in runtime_dependencies()


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wheels = tmp_path_factory.mktemp("wheels")
    build_wheels(wheels)
    return wheels


@pytest.fixture(scope="module")
def installed(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtual environment with the wheel installed from the wheelhouse only; its bin folder."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    result = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", "--no-index", "--find-links", str(wheelhouse),
         "mission-shakti"],
        capture_output=True, text=True, env=bare_environment(),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return venv / "bin"


def test_the_wheel_ships_the_code_and_its_data_but_no_tests(wheelhouse: Path) -> None:
    (wheel,) = wheelhouse.glob("mission_shakti-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert not [n for n in names if "/tests/" in n], "the services' tests are in the wheel"
    for data in (
        "services/intake/priority.yaml",
        "services/escalation/policy.yaml",
        "services/routing/data/shahjahanpur.csv",
        "shakti/web/templates/base.html",
    ):
        assert data in names, f"{data} is not in the wheel"


def test_the_installed_command_runs_without_the_test_extras(installed: Path, tmp_path: Path) -> None:
    python = str(installed / "python")
    where = subprocess.run(
        [python, "-c", "import shakti, shared, services; print(shakti.__file__, shared.__file__, services.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env=bare_environment(), check=True,
    ).stdout.split()  # fmt: skip
    assert all(path.startswith(str(installed.parent)) for path in where), where
    for extra in ("pytest", "testcontainers", "playwright"):
        absent = subprocess.run(
            [python, "-c", f"import {extra}"], capture_output=True, env=bare_environment()
        )
        assert absent.returncode != 0, f"{extra} is installed: the environment is not clean"
    result = subprocess.run(
        [str(installed / "shakti"), "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=bare_environment(),
    )
    assert result.returncode == 0, result.stderr
    assert "serve" in result.stdout


async def test_every_part_runs_from_the_installed_wheel(
    installed: Path, nats_url: str, parts_database_url: str, tmp_path: Path
) -> None:
    shakti = str(installed / "shakti")
    site = Site(nats_url, parts_database_url, tmp_path / "site")
    site.prepare([shakti], bare_environment())
    parts = [
        start(
            [shakti, "serve", part], part, bare_environment() | site.environment(part, free_port()), tmp_path
        )
        for part in PARTS
    ]
    try:
        for part in parts:
            await part.until_ready()
    finally:
        stopped = {part.part: part.stop() for part in parts}
    assert stopped == dict.fromkeys(PARTS, 0), {p.part: p.output() for p in parts}
