"""``shakti``: run the platform and operate it.

Commands that look inside a running platform (status, rebuild, parked, users, erase) call its HTTP API
as the operator console (the account ``shakti-cli``, with a short token signed with ``signing.key``: run
them where the web front's keys are), so they work the same against the embedded platform and a
scaled-out one (``SHAKTI_PLATFORM_URL``).
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shakti import launcher
from shakti.config import PlatformSettings
from shakti.platform import SERVICES
from shakti.users import CONSOLE, CONSOLE_SESSION_VERSION
from shared.auth import Role, TokenIssuer
from shared.keys import (
    KeyProblem,
    check_keys,
    check_retired_setting,
    init_keys,
    keys_needed,
    load_signing_key,
)

app = typer.Typer(help="Mission Shakti platform: run it, watch it, repair it.", no_args_is_help=True)
users_app = typer.Typer(help="People who sign in to the web front.", no_args_is_help=True)
parked_app = typer.Typer(help="Events a read model or a reaction gave up on.", no_args_is_help=True)
routing_app = typer.Typer(help="Jurisdiction and roster data.", no_args_is_help=True)
training_app = typer.Typer(help="Curriculum and training records.", no_args_is_help=True)
keys_app = typer.Typer(
    help="Key files: session signing, certificates, case-key encryption.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(parked_app, name="parked")
app.add_typer(routing_app, name="routing")
app.add_typer(training_app, name="training")

console = Console()


def settings() -> PlatformSettings:
    return PlatformSettings()


def fail(message: str) -> typer.Exit:
    console.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)


def refuse_to_start(problem: KeyProblem) -> typer.Exit:
    console.print(f"[red]{problem.en}\n{problem.hi}[/red]", highlight=False)
    return typer.Exit(2)


CONSOLE_TOKEN_SECONDS = 300


class Platform:
    """The running platform's HTTP API, called as the operator console."""

    def __init__(self, config: PlatformSettings) -> None:
        try:
            key = load_signing_key(config)
        except KeyProblem as problem:
            raise refuse_to_start(problem) from None
        token = TokenIssuer(key).issue(CONSOLE, CONSOLE_SESSION_VERSION, lifetime=CONSOLE_TOKEN_SECONDS)
        self.url = config.base_url()
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30.0
        )

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.HTTPError:
            raise fail(f"The platform does not answer at {self.url}: is `shakti up` running?") from None
        if response.status_code >= 400 and response.status_code != 503:
            detail = response.json().get("detail", {}) if response.content else {}
            message = detail.get("en", response.text) if isinstance(detail, dict) else str(detail)
            if isinstance(detail, dict) and detail.get("hi"):
                message += f"\n{detail['hi']}"
            raise fail(f"{response.status_code}: {message}")
        return response.json()


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option(help="Load a sample district and synthetic complaints (marked DEMO).")
    ] = False,
    port: Annotated[int | None, typer.Option(help="HTTP port (default SHAKTI_HTTP_PORT or 8000).")] = None,
) -> None:
    """Start NATS (embedded unless SHAKTI_NATS_URL is set), the four services and the web front.

    Data stays in SHAKTI_DATA_DIR (default var/): starting again resumes where it stopped."""
    config = settings()
    if port is not None:
        config.http_port = port
    after_start = None
    if demo:
        from shakti.demo import load_demo

        config.demo = True
        after_start = load_demo
        # The demo makes its own keys, beside its data: never a way to run real data.
        config.keys_dir = config.data_dir / "keys"
        init_keys(config)
    startable(config, SERVICES, web=True)
    launcher.run(config, after_start=after_start)


def startable(config: PlatformSettings, services: tuple[str, ...], *, web: bool) -> None:
    """Refuse to start (exit 2, in English and Hindi) without the keys this process needs."""
    try:
        check_retired_setting(os.environ)
        check_keys(config, keys_needed(issues_tokens=web, services=services))
    except KeyProblem as problem:
        raise refuse_to_start(problem) from None


@app.command("demo")
def demo_command(
    port: Annotated[int | None, typer.Option(help="HTTP port (default SHAKTI_HTTP_PORT or 8000).")] = None,
) -> None:
    """The same as `up --demo`: a sample district, roster, curriculum, a programme and synthetic cases."""
    up(demo=True, port=port)


@app.command()
def serve(
    services: Annotated[
        list[str],
        typer.Argument(help=f"One or more of {', '.join(SERVICES)}; or 'web' alone for the web front."),
    ],
    port: Annotated[int | None, typer.Option(help="HTTP port (default SHAKTI_HTTP_PORT or 8000).")] = None,
    projections: Annotated[
        bool | None,
        typer.Option(
            "--projections/--no-projections",
            help="Keep the service's read models here (default SHAKTI_PROJECTIONS, on).",
        ),
    ] = None,
    reactions: Annotated[
        bool | None,
        typer.Option(
            "--reactions/--no-reactions",
            help="Run the service's process managers and timers here (default SHAKTI_REACTIONS, on).",
        ),
    ] = None,
) -> None:
    """Run one service (or a few) alone (scale-out: run as many replicas as needed against a shared NATS).

    A replica may leave its read models to another process (--no-projections), or only keep them
    (--no-reactions): on a small machine, routing decides fastest with its read model kept by a second
    process. 'web' runs the web front alone; set SHAKTI_API_URL to where the services' API answers."""
    config = settings()
    if port is not None:
        config.http_port = port
    if projections is not None:
        config.projections = projections
    if reactions is not None:
        config.reactions = reactions
    if services == ["web"]:
        startable(config, (), web=True)
        launcher.run(config, names=(), web=True)
        return
    for service in services:
        if service not in SERVICES:
            raise fail(f"No service {service!r}: choose from {', '.join(SERVICES)}, or web alone.")
    names = tuple(dict.fromkeys(services))
    startable(config, names, web=False)
    launcher.run(config, names=names, web=False)


@keys_app.command("init")
def keys_init() -> None:
    """Write the key files that are missing (signing.key/.pub, certificate.key, kek.key) into
    SHAKTI_KEYS_DIR (default keys/), mode 0600; an existing file is never overwritten."""
    outcome = init_keys(settings())
    for path in outcome.written:
        console.print(f"wrote {path}", highlight=False)
    for path in outcome.kept:
        console.print(f"kept {path}", highlight=False)
    for note in outcome.notes:
        console.print(f"[yellow]{note}[/yellow]", highlight=False)
    if not outcome.written:
        console.print("nothing to write: every key file is there")


@app.command()
def status() -> None:
    """Each service: NATS connection, ready or not, lag per projection and stream, parked events, and
    the backlog of each process manager (events no replica has handled yet)."""
    report = Platform(settings()).call("GET", "/api/ops/status")
    table = Table("service", "ready", "NATS", "projection", "stream", "lag", "parked")
    for name, part in report["services"].items():
        first = True
        for projection, per_stream in (part.get("lag") or {"-": {}}).items():
            for stream, lag in (per_stream or {"-": 0}).items():
                table.add_row(
                    name if first else "",
                    ("yes" if part.get("ready") else "[red]no[/red]") if first else "",
                    ("up" if part.get("nats") else "[red]down[/red]") if first else "",
                    projection,
                    stream,
                    str(lag),
                    str((part.get("parked") or {}).get(projection, 0)),
                )
                first = False
    console.print(table)
    reactions = Table("service", "process manager", "backlog")
    for name, part in report["services"].items():
        for manager, backlog in (part.get("reactions") or {}).items():
            reactions.add_row(name, manager, str(backlog))
    if reactions.row_count:
        console.print(reactions)
    console.print(f"reactions parked: {report['parked_reactions']}")
    if not all(part.get("ready") for part in report["services"].values()):
        raise typer.Exit(2)


@app.command()
def rebuild(
    service: Annotated[str, typer.Argument(help=f"One of {', '.join(SERVICES)}.")],
) -> None:
    """Rebuild a service's read models from the start of the streams (it keeps answering meanwhile)."""
    platform = Platform(settings())
    state = platform.call("POST", f"/api/ops/rebuild/{service}")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:.0f} events/s"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        task = progress.add_task(service, total=None, rate=0.0)
        while not state["finished"]:
            progress.update(
                task,
                description=f"{service}: {state['projection']}",
                completed=state["done"],
                total=state["total"] or None,
                rate=state["rate"],
            )
            time.sleep(0.25)
            state = platform.call("GET", f"/api/ops/rebuild/{service}")
        progress.update(task, completed=state["done"], total=state["total"] or 1, rate=state["rate"])
    if state["error"]:
        raise fail(f"rebuild of {service} failed: {state['error']}")
    console.print(f"[green]{service} rebuilt[/green]")


@parked_app.command("list")
def parked_list() -> None:
    """Every parked event: where it is, its type and why it was parked (never its payload)."""
    items = Platform(settings()).call("GET", "/api/ops/parked")
    if not items:
        console.print("nothing parked")
        return
    table = Table("kind", "service", "name", "ref", "stream", "seq", "type", "tries", "reason")
    for i in items:
        table.add_row(
            i["kind"], i["service"], i["name"], str(i["ref"]), i["stream"], str(i["sequence"]),
            i["event_type"], str(i["attempts"]), i["reason"],
        )  # fmt: skip
    console.print(table)


@parked_app.command("retry")
def parked_retry(
    name: Annotated[str | None, typer.Option(help="Only this projection or process manager.")] = None,
    ref: Annotated[
        int | None, typer.Option(help="Only this parked record (the 'ref' of `parked list`).")
    ] = None,
) -> None:
    """Apply parked events again; those that now succeed leave the list."""
    params = {k: v for k, v in {"name": name, "ref": ref}.items() if v is not None}
    outcome = Platform(settings()).call("POST", "/api/ops/parked/retry", params=params)
    console.print(f"applied {outcome['applied']}, still parked {outcome['still_parked']}")
    if outcome["still_parked"]:
        raise typer.Exit(2)


def read_password(password_stdin: bool, prompt: str = "Password: ") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != password:
        raise fail("The two passwords differ.")
    return password


DistrictOption = Annotated[str | None, typer.Option(help="District code, e.g. SJP.")]
CircleOption = Annotated[str | None, typer.Option(help="Circle code, e.g. SJP-TILHAR.")]
ThanaOption = Annotated[str | None, typer.Option(help="Thana code, e.g. SJP-KATRA.")]
ServiceNumberOption = Annotated[
    str | None, typer.Option(help="Service number on the roster, e.g. PNO152301.")
]


def show_user(user: dict[str, Any], what: str) -> None:
    console.print(f"user {user['username']} ({user['role']}) {what}", highlight=False)


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Lower-case user name, e.g. 'katra.constable1'.")],
    role: Annotated[Role, typer.Option(help="What the user does.")],
    district: DistrictOption = None,
    circle: CircleOption = None,
    thana: ThanaOption = None,
    service_number: ServiceNumberOption = None,
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
    replace: Annotated[bool, typer.Option(help="Replace an existing user of that name.")] = False,
) -> None:
    """Add a user with a role and a jurisdiction (the password is asked for, never an argument).

    The place must be in the imported jurisdiction, the service number on routing's roster (Kendra
    staff: at a Kendra of their thana) and held by no other user."""
    password = read_password(password_stdin)
    body = {
        "username": username, "password": password, "role": role.value, "district": district,
        "circle": circle, "thana": thana, "service_number": service_number, "replace": replace,
    }  # fmt: skip
    show_user(Platform(settings()).call("POST", "/api/users", json=body), "added")


@users_app.command("list")
def users_list() -> None:
    """Users, their roles and jurisdictions, enabled or not."""
    table = Table("user", "role", "service no.", "district", "circle", "thana", "enabled", "demo")
    for u in Platform(settings()).call("GET", "/api/users"):
        table.add_row(
            u["username"], u["role"], u["service_number"] or "", u["district"] or "", u["circle"] or "",
            u["thana"] or "", "yes" if u["enabled"] else "[red]no[/red]", "yes" if u["demo"] else "",
        )  # fmt: skip
    console.print(table)


@users_app.command("set-role")
def users_set_role(
    username: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[Role, typer.Option(help="What the user does now.")],
    district: DistrictOption = None,
    circle: CircleOption = None,
    thana: ThanaOption = None,
    service_number: ServiceNumberOption = None,
) -> None:
    """Give a user a new role, jurisdiction or service number; their sessions end at once."""
    body = {
        "role": role.value, "district": district, "circle": circle, "thana": thana,
        "service_number": service_number,
    }  # fmt: skip
    show_user(Platform(settings()).call("POST", f"/api/users/{username}/role", json=body), "changed")


@users_app.command("set-password")
def users_set_password(
    username: Annotated[str, typer.Argument(help="The user.")],
    password_stdin: Annotated[bool, typer.Option(help="Read the password from standard input.")] = False,
) -> None:
    """Give a user a new password; their sessions end at once."""
    password = read_password(password_stdin, f"New password of {username}: ")
    show_user(
        Platform(settings()).call("POST", f"/api/users/{username}/password", json={"password": password}),
        "has a new password",
    )


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Stop a user signing in; their sessions end at once."""
    show_user(Platform(settings()).call("POST", f"/api/users/{username}/disable"), "disabled")


@users_app.command("enable")
def users_enable(username: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """Let a disabled user sign in again."""
    show_user(Platform(settings()).call("POST", f"/api/users/{username}/enable"), "enabled")


@users_app.command("sign-out")
def users_sign_out(username: Annotated[str, typer.Argument(help="The user.")]) -> None:
    """End every session of a user (a lost phone, a suspicion)."""
    show_user(Platform(settings()).call("POST", f"/api/users/{username}/signout"), "signed out everywhere")


@app.command()
def docs() -> None:
    """Write docs/openapi.json (HTTP API) and docs/asyncapi.json (events) from the code."""
    from shakti.docs import write_docs

    for path in asyncio.run(write_docs()):
        console.print(f"wrote {path}")


ERASURE_BASES = ("dpdp_request", "court_order", "retention_over")


@app.command()
def erase(
    case: Annotated[str, typer.Argument(help="The case id (32 hex characters).")],
    basis: Annotated[str, typer.Option(help=f"The legal basis: one of {', '.join(ERASURE_BASES)}.")],
    by: Annotated[str, typer.Option("--as", help="The Kendra in-charge or SHO who orders it (signs in).")],
    password_stdin: Annotated[
        bool, typer.Option(help="Read that user's password from standard input.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Erase a complainant's identity from a case for good (crypto-shredding: the case's key is destroyed).

    Only a Kendra in-charge or the SHO of the case's thana may order it: the command signs in as them."""
    if basis not in ERASURE_BASES:
        raise fail(f"The legal basis must be one of {', '.join(ERASURE_BASES)}.")
    password = sys.stdin.readline().rstrip("\n") if password_stdin else getpass.getpass(f"Password of {by}: ")
    platform = Platform(settings())
    signed_in = platform.call("POST", "/api/auth/token", json={"username": by, "password": password})
    if not yes and not typer.confirm(
        f"Erase the identity of case {case} for good? This cannot be undone.", default=False
    ):
        raise typer.Exit(1)
    platform.call(
        "POST",
        f"/api/intake/cases/{case}/erase-identity",
        json={"legal_basis": basis},
        headers={"Authorization": f"Bearer {signed_in['token']}", "Idempotency-Key": f"erase-{case}"},
    )
    console.print(f"identity of case {case} erased")


def upload(path: Path, api_path: str) -> Any:
    if not path.is_file():
        raise fail(f"No file {path}")
    with path.open("rb") as content:
        return Platform(settings()).call("POST", api_path, files={"file": (path.name, content, "text/csv")})


@routing_app.command("import")
def routing_import(
    file: Annotated[
        Path, typer.Argument(help="A jurisdiction CSV, e.g. services/routing/data/shahjahanpur.csv.")
    ],
) -> None:
    """Import a district's jurisdiction (circles, thanas, Kendras, agencies); unchanged rows add nothing."""
    outcome = upload(file, "/api/routing/jurisdiction/import")
    state = "unchanged" if outcome["unchanged"] else f"recorded {outcome['recorded']}"
    console.print(f"{outcome['district']} version {outcome['version']}: {state}")


@routing_app.command("roster")
def routing_roster(
    file: Annotated[
        Path, typer.Argument(help="A roster CSV: service_number,name,rank,gender,kendra[,incharge].")
    ],
) -> None:
    """Import the duty roster (who is posted at which Kendra)."""
    outcome = upload(file, "/api/routing/roster/import")
    console.print(f"{outcome['rows']} rows, {outcome['officers_changed']} officers changed")


@training_app.command("import")
def training_import(
    file: Annotated[Path, typer.Argument(help="An iGOT completion export (CSV).")],
) -> None:
    """Import module completions from the iGOT portal; certificates follow where earned."""
    outcome = upload(file, "/api/training/imports/igot")
    console.print(", ".join(f"{k}: {v}" for k, v in outcome.items() if not isinstance(v, (list, dict))))
