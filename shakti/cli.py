"""``shakti``: run the platform and operate it.

Commands that look inside a running platform (status, rebuild, parked, users, erase) call its HTTP API
as the operator console (the account ``shakti-cli``, with a short token signed with ``signing.key``: run
them where the web front's keys are), so they work the same against the embedded platform and a
scaled-out one (``SHAKTI_PLATFORM_URL``).

What they print comes from ``shakti.terminal``: tables that fit the terminal or JSON (``--json``), the
problems of a refused file with their line and column, failures in English and Hindi, exit code 1.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
import typer.core

# Only what building the commands needs is imported here; each command imports the rest when it runs,
# so that `shakti --help` and the commands that only call the API do not wait for the whole platform
# (tests/test_cli_start.py).
from shakti.basics import CONSOLE, CONSOLE_SESSION_VERSION, PRIVATE_UMASK, SERVICES
from shakti.terminal import (
    Column,
    JsonOption,
    console,
    fail,
    print_json,
    problems_of,
    show_problems,
    show_table,
)
from shared.keys import (
    KeyProblem,
    check_keys,
    check_retired_setting,
    init_keys,
    keys_needed,
    load_signing_key,
)
from shared.roles import Role

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    # Typer carries its own copy of Click: its Context is the one a group's invoke is given.
    from typer._click.core import Context as ClickContext

    from shakti.config import PlatformSettings


def without_password(url: str) -> str:
    """A server's address as an operator may see it: a password in it is never printed."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return parts._replace(netloc=netloc).geturl()


def unreachable(error: Exception) -> typer.Exit | None:
    """A server the command needs that does not answer, told in both languages (exit 1); None for any
    other error. Only what is already imported can have raised, so the checks import nothing new."""
    nats_errors = sys.modules.get("nats.errors")
    if nats_errors is not None and isinstance(error, nats_errors.NoServersError | nats_errors.TimeoutError):
        config = settings()
        where = without_password(config.nats_url or f"nats://127.0.0.1:{config.nats_port}")
        return fail(
            f"NATS does not answer at {where}: is it running? (SHAKTI_NATS_URL says where it is)",
            f"{where} पर NATS उत्तर नहीं दे रहा: क्या वह चल रहा है? (SHAKTI_NATS_URL बताता है कि वह कहाँ है)",
        )
    sql_errors = sys.modules.get("sqlalchemy.exc")
    # asyncpg's refused or timed-out connection comes through SQLAlchemy as the OSError itself; one
    # the driver reports (a wrong password, no such database) as SQLAlchemy's OperationalError.
    if isinstance(error, ConnectionError | TimeoutError) or (
        sql_errors is not None and isinstance(error, sql_errors.OperationalError | sql_errors.InterfaceError)
    ):
        # The error's own words name the address, never the URL's password.
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        return fail(
            f"The database does not answer ({reason}): is it running, and are SHAKTI_DATABASE_URL and "
            "SHAKTI_KEY_STORE_URL right?",
            f"डेटाबेस उत्तर नहीं दे रहा ({reason}): क्या वह चल रहा है, और क्या SHAKTI_DATABASE_URL और "
            "SHAKTI_KEY_STORE_URL सही हैं?",
        )
    return None


class OperatorCommands(typer.core.TyperGroup):
    """Every command runs inside this group: the one place where a server that does not answer (NATS,
    a database) becomes a message in English and Hindi and exit code 1, never a traceback. (The
    platform's HTTP API is told in ``Platform.call``, which knows its address.)"""

    def invoke(self, ctx: ClickContext) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            if (told := unreachable(error)) is None:
                raise
            raise told from None


app = typer.Typer(
    help="Mission Shakti platform: run it, watch it, repair it.", no_args_is_help=True, cls=OperatorCommands
)
users_app = typer.Typer(help="People who sign in to the web front.", no_args_is_help=True)
parked_app = typer.Typer(help="Events a read model or a reaction gave up on.", no_args_is_help=True)
routing_app = typer.Typer(help="Jurisdiction and roster data.", no_args_is_help=True)
training_app = typer.Typer(help="Curriculum and training records.", no_args_is_help=True)
notifications_app = typer.Typer(
    help="Messages to officers: parked ones, and sending them again.", no_args_is_help=True
)
keys_app = typer.Typer(
    help="Key files: session signing, certificates, case-key encryption.", no_args_is_help=True
)
app.add_typer(users_app, name="users")
app.add_typer(keys_app, name="keys")
app.add_typer(parked_app, name="parked")
app.add_typer(routing_app, name="routing")
app.add_typer(training_app, name="training")
app.add_typer(notifications_app, name="notifications")


@app.callback()
def private_files() -> None:
    """Whatever a command writes (read models, keys, users) is readable by its owner only."""
    os.umask(PRIVATE_UMASK)


def settings() -> PlatformSettings:
    """The settings from the environment; a bad value is named, in both languages (exit 2)."""
    from pydantic import ValidationError

    from shakti.config import PlatformSettings

    try:
        return PlatformSettings()
    except ValidationError as error:
        problems = error.errors()
        names = [f"SHAKTI_{'_'.join(str(part) for part in p['loc']).upper()}" for p in problems]
        given = [f"{name}={p.get('input')!s}" for name, p in zip(names, problems, strict=True)]
        raise fail(
            "A setting is not valid: "
            + "; ".join(f"{name}: {p['msg']}" for name, p in zip(names, problems, strict=True)),
            "यह सेटिंग मान्य नहीं है: " + "; ".join(given),
            code=2,
        ) from None


def refuse_to_start(problem: KeyProblem) -> typer.Exit:
    return fail(problem.en, problem.hi, code=2)


CONSOLE_TOKEN_SECONDS = 300


class Platform:
    """The running platform's HTTP API, called as the operator console."""

    def __init__(self, config: PlatformSettings) -> None:
        import httpx

        from shared.tokens import TokenIssuer

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
        """The answer's JSON; on a refusal, its message in both languages (and the problems it lists,
        each with its line and column), exit code 1."""
        import httpx

        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise fail(
                f"The platform at {self.url} did not answer in time.",
                f"{self.url} पर प्लेटफ़ॉर्म ने समय पर उत्तर नहीं दिया।",
            ) from None
        except httpx.HTTPError:
            raise fail(
                f"The platform does not answer at {self.url}: is `shakti up` running? "
                "(SHAKTI_PLATFORM_URL, SHAKTI_HTTP_PORT say where it is)",
                f"{self.url} पर प्लेटफ़ॉर्म उत्तर नहीं दे रहा: क्या `shakti up` चल रहा है? "
                "(SHAKTI_PLATFORM_URL, SHAKTI_HTTP_PORT बताते हैं कि वह कहाँ है)",
            ) from None
        status = response.status_code
        try:
            answer = response.json() if response.content else {}
        except ValueError:
            raise fail(
                f"{self.url}{path} answered {status} with something other than JSON: "
                "is SHAKTI_PLATFORM_URL the platform?",
                f"{self.url}{path} ने {status} के साथ JSON के बिना उत्तर दिया: "
                "क्या SHAKTI_PLATFORM_URL प्लेटफ़ॉर्म का पता है?",
            ) from None
        # A 503 with a report (a service not ready) is an answer, not a refusal.
        report = status == 503 and isinstance(answer, Mapping) and answer and "detail" not in answer
        if status >= 400 and not report:
            detail = answer.get("detail") if isinstance(answer, Mapping) else None
            if not isinstance(detail, Mapping):
                detail = {}
            if problems := problems_of(detail):
                show_problems(problems)
            raise fail(
                f"{status}: {detail.get('en') or response.reason_phrase or 'refused'}",
                f"{status}: {detail.get('hi') or 'प्लेटफ़ॉर्म ने अनुरोध अस्वीकार किया'}",
            )
        return answer


@app.command()
def up(
    demo: Annotated[
        bool, typer.Option(help="Load a sample district and synthetic complaints (marked DEMO).")
    ] = False,
    port: Annotated[int | None, typer.Option(help="HTTP port (default SHAKTI_HTTP_PORT or 8000).")] = None,
) -> None:
    """Start NATS (embedded unless SHAKTI_NATS_URL is set), the five services and the web front.

    Data stays in SHAKTI_DATA_DIR (default var/): starting again resumes where it stopped."""
    config = settings()
    if port is not None:
        config.http_port = port
    mode = None
    if demo:
        from shakti.demo import Demo

        config.demo = True
        mode = Demo(history_days=config.demo_history_days).mode()
        # The demo makes its own keys, beside its data: never a way to run real data.
        config.keys_dir = config.data_dir / "keys"
        init_keys(config)
    startable(config, SERVICES, web=True)
    start(config, mode=mode, show_summary=True)


def start(config: PlatformSettings, **how: Any) -> None:
    """``launcher.run``, with a port that cannot be had told plainly (no traceback)."""
    from shakti import launcher
    from shared.bus import CredentialsError
    from shared.natsserver import StoreInUse

    try:
        launcher.run(config, **how)
    except (
        launcher.CannotListen,
        launcher.NatsPortTaken,
        launcher.StoppedWaitingForNats,
        StoreInUse,
    ) as error:
        raise fail(error.en, error.hi) from None
    except (launcher.NatsRefusedLogin, launcher.NatsUnusable, CredentialsError) as refused:
        raise fail(refused.en, refused.hi, code=2) from None


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
        start(config, names=(), web=True)
        return
    for service in services:
        if service not in SERVICES:
            choose = ", ".join(SERVICES)
            raise fail(
                f"No service {service!r}: choose from {choose}, or web alone.",
                f"{service!r} नाम की कोई सेवा नहीं: इनमें से चुनें: {choose}, या अकेले web।",
            )
    names = tuple(dict.fromkeys(services))
    startable(config, names, web=False)
    start(config, names=names, web=False)


STATUS_COLUMNS = [
    Column("service"),
    Column("ready"),
    Column("nats", "NATS"),
    Column("projection"),
    Column("stream"),
    Column("lag", justify="right"),
    Column("parked", justify="right"),
]
BACKLOG_COLUMNS = [
    Column("service"),
    Column("manager", "process manager"),
    Column("backlog", justify="right"),
]


def progress_bar() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def stepping(progress: Progress) -> Callable[[str, int, int], None]:
    """A progress callback (what, done, total) drawing one bar per thing done."""
    tasks: dict[str, TaskID] = {}

    def step(what: str, done: int, total: int) -> None:
        if what not in tasks:
            tasks[what] = progress.add_task(what, total=total or None)
        progress.update(tasks[what], completed=done, total=total or done or None)

    return step


@app.command()
def backup(
    folder: Annotated[Path, typer.Argument(help="A new (or empty) folder to write the backup into.")],
) -> None:
    """Back up every stream (every message, in order, with its headers), intake's key store (wrapped
    keys only: keep the KEK elsewhere) and the web users. The platform may keep running."""
    from shakti.backup import BackupRefused
    from shakti.backup import backup as take_backup

    with progress_bar() as progress:
        try:
            summary = asyncio.run(take_backup(settings(), folder, stepping(progress)))
        except BackupRefused as refused:
            raise fail(refused.en, refused.hi) from None
    console.print(
        f"backed up {sum(summary.streams.values())} messages of {len(summary.streams)} streams, "
        f"{summary.keys} wrapped keys, {summary.erased} erased cases, {summary.web_rows} web rows "
        f"into {folder}"
    )


@app.command()
def restore(
    folder: Annotated[Path, typer.Argument(help="A folder written by `shakti backup`.")],
    only: Annotated[
        list[str] | None,
        typer.Option(
            help="Restore only this part: streams, keys or web (repeatable); e.g. --only keys "
            "when only the key store was lost (its erasures are then applied again)."
        ),
    ] = None,
) -> None:
    """Restore a backup into an empty NATS server (each message keeps its sequence; a stream that holds
    messages is refused), merge the key store, apply again every erasure in intake's stream, restore
    the web users and rebuild the read models. Run it with the platform stopped."""
    from shakti.backup import PARTS, BackupRefused
    from shakti.backup import restore as restore_backup

    parts = tuple(only or PARTS)
    if not set(parts) <= set(PARTS):
        raise fail(f"--only takes {', '.join(PARTS)}.", f"--only के मान: {', '.join(PARTS)}।")

    if not (folder / "manifest.json").is_file():
        raise fail(f"No backup in {folder} (no manifest.json).", f"{folder} में कोई बैकअप नहीं है।")
    with progress_bar() as progress:
        try:
            summary = asyncio.run(restore_backup(settings(), folder, stepping(progress), parts))
        except BackupRefused as refused:
            raise fail(refused.en, refused.hi) from None
    console.print(
        f"restored {sum(summary.streams.values())} messages of {len(summary.streams)} streams, "
        f"{summary.keys} keys added, {summary.erased} erased cases kept erased, {summary.web_rows} web rows"
    )


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


@keys_app.command("rotate-kek")
def rotate_kek(
    new: Annotated[
        Path | None,
        typer.Option(
            help="Re-wrap under this KEK file (the platform stopped); unset: under SHAKTI_KEK_FILE."
        ),
    ] = None,
) -> None:
    """Re-wrap every case key under a new key-encryption key (KEK).

    While the platform runs: make the new KEK the current one (SHAKTI_KEK_FILE) and the old one
    SHAKTI_KEK_PREVIOUS_FILE, restart intake, run this, then drop the previous one and destroy it.
    With the platform stopped: `--new FILE` re-wraps under FILE; then make FILE the KEK."""
    from services.intake.kek import FileKek, KekRing, KekUnavailable, load_kek_ring
    from services.intake.keystore import KeyStore

    config = settings()
    try:
        ring = load_kek_ring(config)
        target = KekRing(FileKek.read(new, "--new")) if new is not None else ring
    except KekUnavailable as missing:
        raise fail(missing.en, missing.hi) from None

    async def rewrap(step: Callable[[str, int, int], None]) -> int:
        keys = KeyStore.open(config.key_store_url or config.database_for("intake"), ring)
        try:
            await keys.setup()
            return await keys.rewrap(target, lambda done, total: step("re-wrapping", done, total))
        finally:
            await keys.close()

    with progress_bar() as progress:
        done = asyncio.run(rewrap(stepping(progress)))
    console.print(f"{done} keys re-wrapped under KEK {target.key_id}")


@app.command()
def status(as_json: JsonOption = False) -> None:
    """Each service: NATS connection, ready or not, lag per projection and stream, parked events, and
    the backlog of each process manager (events no replica has handled yet). Exit code 2 when a
    service is not ready."""
    report = Platform(settings()).call("GET", "/api/ops/status")
    services: dict[str, Any] = report["services"]
    ready = all(part.get("ready") for part in services.values())
    if as_json:
        print_json(report)
    else:
        rows = []
        for name, part in services.items():
            first = True
            for projection, per_stream in (part.get("lag") or {"-": {}}).items():
                for stream, lag in (per_stream or {"-": 0}).items():
                    rows.append(
                        {
                            "service": name if first else "",
                            "ready": ("yes" if part.get("ready") else "NO") if first else "",
                            "nats": ("up" if part.get("nats") else "DOWN") if first else "",
                            "projection": projection,
                            "stream": stream,
                            "lag": lag,
                            "parked": (part.get("parked") or {}).get(projection, 0),
                        }
                    )
                    first = False
        show_table(rows, STATUS_COLUMNS, as_json=False)
        backlog = [
            {"service": name, "manager": manager, "backlog": count}
            for name, part in services.items()
            for manager, count in (part.get("reactions") or {}).items()
        ]
        if backlog:
            show_table(backlog, BACKLOG_COLUMNS, as_json=False)
        console.print(f"reactions parked: {report['parked_reactions']}")
        for name, part in services.items():
            if part.get("figures"):
                shown = ", ".join(f"{key} {value}" for key, value in sorted(part["figures"].items()))
                console.print(f"{name}: {shown}", highlight=False)
    if not ready:
        raise typer.Exit(2)


@app.command()
def rebuild(
    service: Annotated[str, typer.Argument(help=f"One of {', '.join(SERVICES)}.")],
) -> None:
    """Rebuild a service's read models from the start of the streams (it keeps answering meanwhile)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
        raise fail(
            f"The rebuild of {service} failed: {state['error']}",
            f"{service} का पुनर्निर्माण विफल: {state['error']}",
        )
    console.print(f"[green]{service} rebuilt / पुनर्निर्मित[/green]")


PARKED_COLUMNS = [
    Column("kind"),
    Column("service"),
    Column("name"),
    Column("ref", justify="right"),
    Column("stream"),
    Column("sequence", "seq", justify="right"),
    Column("event_type", "type"),
    Column("attempts", "tries", justify="right"),
    Column("reason"),
]


@parked_app.command("list")
def parked_list(as_json: JsonOption = False) -> None:
    """Every parked event: where it is, its type and why it was parked (never its payload)."""
    items = Platform(settings()).call("GET", "/api/ops/parked")
    show_table(items, PARKED_COLUMNS, as_json=as_json, empty=("nothing parked", "कुछ भी रुका नहीं"))


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
    console.print(
        f"applied {outcome['applied']}, still parked {outcome['still_parked']} / "
        f"लागू {outcome['applied']}, अब भी रुके {outcome['still_parked']}"
    )
    if outcome["still_parked"]:
        raise typer.Exit(2)


NOTIFICATION_COLUMNS = [
    Column("notification_id", "id"),
    Column("case_number", "case / मामला"),
    Column("rule", "rule / नियम", show=lambda rule: f"{rule['en']} / {rule['hi']}"),
    Column("channel", "channel / माध्यम", show=lambda channel: channel["code"]),
    Column("recipient", "to / प्राप्तकर्ता"),
    Column("tries", "tries", justify="right"),
    Column("reason", "reason / कारण"),
]


@notifications_app.command("list")
def notifications_list(as_json: JsonOption = False) -> None:
    """The messages no channel took after the last try (parked), and how many are in each state."""
    platform = Platform(settings())
    figures = platform.call("GET", "/api/notifications/figures")["by_status"]
    parked = platform.call("GET", "/api/notifications/parked")["messages"]
    if as_json:
        print_json({"by_status": figures, "parked": parked})
        return
    summary = ", ".join(f"{status}: {count}" for status, count in sorted(figures.items())) or "none / कोई नहीं"
    console.print(f"notifications / सूचनाएँ: {summary}", highlight=False)
    show_table(
        parked, NOTIFICATION_COLUMNS, as_json=False, empty=("nothing parked", "कुछ भी रुका नहीं"), title="parked"
    )


@notifications_app.command("retry")
def notifications_retry(
    notification: Annotated[
        str | None, typer.Argument(help="One parked message (the 'id' of `notifications list`); else all.")
    ] = None,
) -> None:
    """Send parked messages again, now (each gets the policy's tries); exit code 2 if any is still parked."""
    platform = Platform(settings())
    wanted = (
        [notification]
        if notification
        else [m["notification_id"] for m in platform.call("GET", "/api/notifications/parked")["messages"]]
    )
    outcomes = [platform.call("POST", f"/api/notifications/{n}/retry")["outcome"] for n in wanted]
    sent, to_intake, under_way = (outcomes.count(o) for o in ("sent", "to_intake", "under_way"))
    parked = len(outcomes) - sent - to_intake - under_way
    console.print(
        f"sent {sent}, handed to intake {to_intake} (a complainant's SMS), still parked {parked}, already "
        f"being sent {under_way} / भेजे {sent}, इनटेक को सौंपे {to_intake} (शिकायतकर्ता के SMS), अब भी रुके "
        f"{parked}, पहले से भेजे जा रहे {under_way}"
    )
    if parked:
        raise typer.Exit(2)


def read_password(password_stdin: bool, prompt: str = "Password: ") -> str:
    if password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass(prompt)
    if getpass.getpass("Again: ") != password:
        raise fail("The two passwords differ.", "दोनों पासवर्ड अलग हैं।")
    return password


DistrictOption = Annotated[str | None, typer.Option(help="District code, e.g. SJP.")]
CircleOption = Annotated[str | None, typer.Option(help="Circle code, e.g. SJP-TILHAR.")]
ThanaOption = Annotated[str | None, typer.Option(help="Thana code, e.g. SJP-KATRA.")]
AgencyOption = Annotated[
    str | None, typer.Option(help="An agency desk's agency code, e.g. SJP-OSC (role agency_desk only).")
]
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
    agency: AgencyOption = None,
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
        "circle": circle, "thana": thana, "agency": agency, "service_number": service_number,
        "replace": replace,
    }  # fmt: skip
    show_user(Platform(settings()).call("POST", "/api/users", json=body), "added")


USER_COLUMNS = [
    Column("username", "user"),
    Column("role"),
    Column("service_number", "service no."),
    Column("district"),
    Column("circle"),
    # An agency desk has an agency where the police have a thana: one column keeps the table in 80 columns.
    Column("thana", "thana/agency"),
    Column("enabled", show=lambda enabled: "yes" if enabled else "no"),
    Column("demo", show=lambda demo: "yes" if demo else ""),
]


@users_app.command("list")
def users_list(as_json: JsonOption = False) -> None:
    """Users, their roles and jurisdictions, enabled or not."""
    records = Platform(settings()).call("GET", "/api/users")
    if not as_json:
        records = [r | {"thana": r.get("thana") or r.get("agency")} for r in records]
    show_table(records, USER_COLUMNS, as_json=as_json, empty=("no users yet", "अभी कोई उपयोगकर्ता नहीं"))


@users_app.command("set-role")
def users_set_role(
    username: Annotated[str, typer.Argument(help="The user.")],
    role: Annotated[Role, typer.Option(help="What the user does now.")],
    district: DistrictOption = None,
    circle: CircleOption = None,
    thana: ThanaOption = None,
    agency: AgencyOption = None,
    service_number: ServiceNumberOption = None,
) -> None:
    """Give a user a new role, jurisdiction or service number; their sessions end at once."""
    body = {
        "role": role.value, "district": district, "circle": circle, "thana": thana, "agency": agency,
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
        bases = ", ".join(ERASURE_BASES)
        raise fail(f"The legal basis must be one of {bases}.", f"वैधानिक आधार इनमें से एक हो: {bases}।")
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
    console.print(f"identity of case {case} erased / मामले {case} की पहचान मिटा दी गई")


def read_csv(path: Path) -> bytes:
    """The file's bytes, checked here first: a missing file, one that cannot be read, or one that is not
    UTF-8 text (with where the first bad byte is) stop the command with a message, not a traceback."""
    if not path.is_file():
        raise fail(f"No file {path}.", f"फ़ाइल {path} नहीं मिली।")
    try:
        content = path.read_bytes()
    except OSError as error:
        raise fail(
            f"Cannot read {path}: {error.strerror}.", f"{path} पढ़ी नहीं जा सकी: {error.strerror}।"
        ) from None
    try:
        content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        column = error.start - (content.rfind(b"\n", 0, error.start) + 1) + 1
        show_problems(
            [
                {
                    "line": line,
                    "column": f"byte {column}",
                    "en": "not UTF-8: save the file as 'CSV UTF-8'",
                    "hi": "UTF-8 नहीं: फ़ाइल को 'CSV UTF-8' के रूप में सहेजें",
                }
            ]
        )
        raise fail(
            f"{path} is not UTF-8 text; nothing was imported.",
            f"{path} UTF-8 टेक्स्ट नहीं है; कुछ भी आयात नहीं हुआ।",
        ) from None
    return content


def upload(path: Path, api_path: str) -> Any:
    content = read_csv(path)
    return Platform(settings()).call("POST", api_path, files={"file": (path.name, content, "text/csv")})


@routing_app.command("import")
def routing_import(
    file: Annotated[
        Path, typer.Argument(help="A jurisdiction CSV, e.g. services/routing/data/shahjahanpur.csv.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Import a district's jurisdiction (circles, thanas, Kendras, agencies); unchanged rows add nothing.

    A file with problems records nothing: each problem is listed with its line (exit code 1)."""
    outcome = upload(file, "/api/routing/jurisdiction/import")
    if as_json:
        print_json(outcome)
        return
    title = f"{outcome['district']}, version {outcome['version']}"
    if outcome["unchanged"]:
        console.print(f"{title}: unchanged, nothing recorded / अपरिवर्तित, कुछ दर्ज नहीं हुआ")
        return
    recorded: dict[str, int] = outcome["recorded"]
    show_table(
        [{"event": event, "count": count} for event, count in sorted(recorded.items())],
        [Column("event", "recorded / दर्ज"), Column("count", justify="right")],
        as_json=False,
        title=f"{title}: {sum(recorded.values())} changes recorded / बदलाव दर्ज",
    )


@routing_app.command("roster")
def routing_roster(
    file: Annotated[
        Path, typer.Argument(help="A roster CSV: service_number,name,rank,gender,kendra[,incharge].")
    ],
    as_json: JsonOption = False,
) -> None:
    """Import the duty roster (who is posted at which Kendra).

    A file with problems records nothing: each problem is listed with its line (exit code 1)."""
    outcome = upload(file, "/api/routing/roster/import")
    if as_json:
        print_json(outcome)
        return
    console.print(
        f"{outcome['rows']} rows, {outcome['officers_changed']} officers changed / "
        f"{outcome['rows']} पंक्तियाँ, {outcome['officers_changed']} अधिकारियों में बदलाव"
    )


@training_app.command("import")
def training_import(
    file: Annotated[Path, typer.Argument(help="An iGOT completion export (CSV).")],
    as_json: JsonOption = False,
) -> None:
    """Import module completions from the iGOT portal; certificates follow where earned.

    Columns: service_number, module_id, completed_at (and optionally score, version). A file with
    problems records nothing: each problem is listed with its line and column (exit code 1)."""
    outcome = upload(file, "/api/training/imports/igot")
    if as_json:
        print_json(outcome)
        return
    console.print(
        f"{outcome['lines']} lines, {outcome['officers']} officers, {outcome['recorded']} completions "
        f"recorded, {outcome['certified']} certified / {outcome['lines']} पंक्तियाँ, "
        f"{outcome['officers']} अधिकारी, {outcome['recorded']} प्रविष्टियाँ दर्ज, "
        f"{outcome['certified']} प्रमाणित"
    )
