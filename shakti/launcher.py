"""Running the platform: the embedded NATS server (unless one is configured), the services and the web
front in one process, served by uvicorn until Ctrl-C.

Data stays in ``Settings.data_dir`` (JetStream files under ``nats/``, one SQLite file per read model),
so starting again resumes: projections continue from their checkpoints, nothing is replayed twice.

For a person at a terminal, ``shakti up`` ends its start-up with a framed summary (where to open it,
where its data and keys are, the demo's users, how to stop it), and the HTTP port is taken before
anything starts, so that a port in use stops it at once with a message naming the setting to change.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import os
import re
import signal
import socket
import stat
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import uvicorn
from fastapi import FastAPI
from rich import box
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from shakti.basics import PRIVATE_UMASK, SERVICES
from shakti.config import PlatformSettings
from shakti.platform import build_platform, runners
from shared.clock import Clock
from shared.contracts.users import SERVICE as USERS_PART
from shared.natsserver import StoreLock, free_port, platform_server
from shared.observability import LogOutput, configure_logging
from shared.ports import PortHolder, port_holder

log = logging.getLogger(__name__)

AfterStart = Callable[[FastAPI, str], Awaitable[None]]


def port_available(host: str, port: int) -> bool:
    """Could a server bind ``port`` now? Checked as servers bind (address reuse, as nats-server and
    uvicorn do): connections of a server just stopped, closing or in TIME_WAIT, do not hold it."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class NatsPortTaken(Exception):
    """The configured NATS port is held by another program: named, with the setting to change."""

    def __init__(self, port: int, holder: PortHolder | None) -> None:
        self.port, self.holder = port, holder
        who_en = f" by {holder.describe()}" if holder else ""
        who_hi = f" ({holder.short()})" if holder else ""
        self.en = (
            f"The embedded NATS server's port {port} is already in use{who_en}. Stop that program, or "
            f"choose another port: SHAKTI_NATS_PORT={port + 1} (every process and tool of this platform "
            "must then use it too)."
        )
        self.hi = (
            f"अंतर्निहित NATS सर्वर का पोर्ट {port} पहले से उपयोग में है{who_hi}। उसे बंद करें, या दूसरा पोर्ट "
            f"चुनें: SHAKTI_NATS_PORT={port + 1} (तब इस प्लेटफ़ॉर्म की हर प्रक्रिया और उपकरण भी यही उपयोग करें)।"
        )
        super().__init__(self.en)


def nats_port(settings: PlatformSettings) -> int:
    """The embedded server's port. A configured port (SHAKTI_NATS_PORT) is kept or the start refused,
    since other processes and tools find the server by it; only the default may move when taken."""
    port = settings.nats_port
    if port_available("127.0.0.1", port):
        return port
    if "nats_port" in settings.model_fields_set:
        raise NatsPortTaken(port, port_holder(port))
    # Another NATS (often a system one) holds the usual port; ours keeps its data all the same.
    moved = free_port()
    log.warning("port %d is taken; the embedded NATS server uses %d", port, moved)
    return moved


@contextlib.contextmanager
def nats_for(settings: PlatformSettings) -> Iterator[str]:
    """The configured NATS URL, or an embedded server kept running for the block.

    The store is locked first: a server a crashed launcher left on it is stopped (and its port freed)
    before the port is chosen."""
    if settings.nats_url:
        yield settings.nats_url
        return
    data_dir = settings.data_dir.resolve()
    lock = StoreLock(data_dir / "nats").acquire()
    try:
        port = nats_port(settings)
    except BaseException:
        lock.release()
        raise
    with platform_server(data_dir, port, lock) as server:
        log.info("embedded NATS server at %s, data in %s", server.url, server.data_dir)
        yield server.url


NATS_TOLD_AGAIN_SECONDS = 30.0
"""While NATS does not answer, the log says so again this often (the first time at once)."""


class StoppedWaitingForNats(Exception):
    """Ctrl-C or SIGTERM came while the configured NATS server had not answered yet."""

    def __init__(self, url: str) -> None:
        where = without_credentials(url)
        self.en = f"Stopped before NATS answered at {where}; nothing was started."
        self.hi = f"{where} पर NATS के उत्तर देने से पहले रोका गया; कुछ भी शुरू नहीं हुआ।"
        super().__init__(self.en)


class NatsRefusedLogin(Exception):
    """The configured NATS server answered, and refused a part's login."""

    def __init__(self, url: str, login: NatsLogin, said: str) -> None:
        where = without_credentials(url)
        # Whose login: the part's own user, else the URL's user name; a URL with no password holds a
        # token in that place, which is never shown.
        parts = urlsplit(url if "://" in url else f"nats://{url}")
        who = login.options.get("user") or (parts.username if parts.password is not None else None)
        whose_en = f"the login of {who!r}" if who else f"the token of {login.user!r}"
        whose_hi = f"{who!r} का लॉगिन" if who else f"{login.user!r} का टोकन"
        settings = "SHAKTI_NATS_CREDENTIALS_FILE, SHAKTI_NATS_PASSWORD"
        self.en = (
            f"NATS at {where} refused {whose_en} ({said}); nothing was started. Check it ({settings} or "
            "SHAKTI_NATS_URL) against the server's accounts."
        )
        self.hi = (
            f"{where} पर NATS ने {whose_hi} अस्वीकार किया ({said}); कुछ भी शुरू नहीं हुआ। उसे ({settings} या "
            "SHAKTI_NATS_URL) सर्वर के खातों से मिलाकर जाँचें।"
        )
        super().__init__(self.en)


class NatsUnusable(Exception):
    """The configured NATS server cannot be used as configured, and waiting will not change that."""

    def __init__(self, url: str, said: str) -> None:
        where = without_credentials(url)
        self.en = (
            f"NATS at {where} cannot be used as configured ({said}); nothing was started. Check "
            "SHAKTI_NATS_URL: one server, its scheme (nats://, tls://) and the server's certificate."
        )
        self.hi = (
            f"{where} पर NATS इस विन्यास से उपयोग नहीं हो सकता ({said}); कुछ भी शुरू नहीं हुआ। SHAKTI_NATS_URL "
            "जाँचें: एक सर्वर, उसकी योजना (nats://, tls://) और सर्वर का प्रमाणपत्र।"
        )
        super().__init__(self.en)


@dataclass(frozen=True)
class NatsLogin:
    """A part's connection to try: its NATS user and the options it connects with."""

    user: str
    options: dict[str, object]


REFUSALS = ("authorization violation", "authentication expired", "authentication revoked")
"""What the server says of a login it will not take, however long one waits (its 'Authentication
Timeout' is not among them: a busy server's, which a retry mends)."""
CONNECT_SECONDS = 5.0


async def first_failed_login(url: str, logins: Sequence[NatsLogin]) -> tuple[NatsLogin, str] | None:
    """Each login tried once: the first that failed and what the server or the socket said (None: every
    one connected). A refusal raises ``NatsRefusedLogin``; a configuration no wait can mend (a list
    nats-py cannot read, a certificate, websockets without their library) ``NatsUnusable``."""
    import ssl

    import nats
    from nats.errors import Error as NatsError

    async def quiet(error: Exception) -> None:
        return None  # told once, by the caller

    for login in logins:
        try:
            # Bounded from outside: with no reconnecting, nats-py still cycles through its servers for
            # ever when each connect fails.
            async with asyncio.timeout(CONNECT_SECONDS + 2):
                nc = await nats.connect(
                    url, allow_reconnect=False, connect_timeout=CONNECT_SECONDS, max_reconnect_attempts=0,
                    error_cb=quiet, **login.options,
                )  # fmt: skip
        except NatsError as error:
            said = str(error).removeprefix("nats: ").strip("'")
            if any(refusal in said.lower() for refusal in REFUSALS):
                raise NatsRefusedLogin(url, login, said) from None
            if "invalid connect url" in said.lower():
                raise NatsUnusable(url, said) from None
            return login, said
        except (ssl.SSLError, ImportError) as error:
            raise NatsUnusable(url, type(error).__name__) from None
        except TimeoutError:
            return login, "no answer to the connection"
        except Exception as error:  # the socket's story: reset, refused, closed
            return login, type(error).__name__
        await nc.close()
    return None


def nats_url_parts(url: str) -> tuple[str, str, int]:
    """Scheme, host and port of a NATS URL as nats-py reads it (a bare ``host[:port]`` is nats://)."""
    if "://" not in url:
        url = f"nats://{url}"
    parts = urlsplit(url)
    scheme = parts.scheme
    default = {"ws": 80, "wss": 443}.get(scheme, 4222)
    return scheme, parts.hostname or "127.0.0.1", parts.port or default


async def nats_answers(urls: str, timeout: float = 2.0) -> bool:
    """Does a server answer: its INFO line (a websocket's port, which speaks HTTP first: accepting
    the connection)? A probe of the socket, not a client's connection: it needs no credentials and
    cannot hang in nats-py's reconnect loop, which is what the services' connection would do (and what
    made the start-up deaf to signals while it waited)."""
    for url in server_urls(urls):
        try:
            scheme, host, port = nats_url_parts(url)
        except ValueError:  # a port that is not a number: told as not answering, never as its text
            continue
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
                try:
                    if scheme in ("ws", "wss") or await reader.read(4) == b"INFO":
                        return True
                finally:
                    writer.close()
        except (OSError, TimeoutError):
            continue
    return False


def wait_for_nats(url: str, tell: Callable[[str], None], logins: Sequence[NatsLogin] = ()) -> None:
    """Return once NATS answers and takes each of ``logins``; until then say so (at once, then every
    ``NATS_TOLD_AGAIN_SECONDS``). A refused login raises ``NatsRefusedLogin``, a configuration no wait
    can mend ``NatsUnusable``; Ctrl-C and SIGTERM while waiting raise ``StoppedWaitingForNats``. A
    server that answers but drops the connection is waited for like one that does not answer: the
    services' own connection would otherwise retry for ever inside a start-up deaf to signals."""

    async def waiting() -> None:
        told = -NATS_TOLD_AGAIN_SECONDS
        loop = asyncio.get_running_loop()
        while True:
            failed = None
            if await nats_answers(url):
                failed = await first_failed_login(url, logins)
                if failed is None:
                    return
            if loop.time() - told >= NATS_TOLD_AGAIN_SECONDS:
                told = loop.time()
                where = without_credentials(url)
                if failed is None:
                    tell(
                        f"NATS does not answer at {where}; waiting for it (Ctrl-C stops). / "
                        f"{where} पर NATS उत्तर नहीं दे रहा; प्रतीक्षा जारी है (Ctrl-C से रोकें)।"
                    )
                else:
                    tell(
                        f"NATS answers at {where} but drops the connection ({failed[1]}); waiting for it "
                        f"(Ctrl-C stops). / {where} पर NATS उत्तर देता है पर कनेक्शन तोड़ देता है "
                        f"({failed[1]}); प्रतीक्षा जारी है (Ctrl-C से रोकें)।"
                    )
            await asyncio.sleep(1.0)

    try:
        asyncio.run(waiting())
    except KeyboardInterrupt:
        raise StoppedWaitingForNats(url) from None


class CannotListen(Exception):
    """The HTTP port cannot be had. The message says what to change and, when known, who holds it."""

    def __init__(self, host: str, port: int, reason: str, holder: PortHolder | None = None) -> None:
        self.host, self.port, self.reason, self.holder = host, port, reason, holder
        other = port + 1
        change_en = f"choose another port: SHAKTI_HTTP_PORT={other} make run, or shakti up --port {other}"
        change_hi = f"दूसरा पोर्ट चुनें: SHAKTI_HTTP_PORT={other} make run, या shakti up --port {other}"
        if reason == "in_use":
            who_en = f" by {holder.describe()}" if holder else ""
            who_hi = f" ({holder.short()})" if holder else ""
            self.en = f"Port {port} on {host} is already in use{who_en}. Stop that program, or {change_en}."
            self.hi = f"पोर्ट {port} ({host}) पहले से उपयोग में है{who_hi}। उसे बंद करें, या {change_hi}।"
        else:
            self.en = f"Cannot listen on {host}:{port} ({reason}). Check SHAKTI_HTTP_HOST, or {change_en}."
            self.hi = f"{host}:{port} पर नहीं सुन सकते ({reason})। SHAKTI_HTTP_HOST जाँचें, या {change_hi}।"
        super().__init__(self.en)


def http_socket(settings: PlatformSettings) -> socket.socket:
    """The HTTP server's socket, bound before anything else starts (uvicorn listens on it)."""
    host, port = settings.http_host, settings.http_port
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    # As uvicorn does: a port left in TIME_WAIT by a platform just stopped is not "in use".
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            raise CannotListen(host, port, "in_use", port_holder(port)) from None
        raise CannotListen(host, port, error.strerror or type(error).__name__) from None
    sock.set_inheritable(True)
    return sock


def keep_private(data_dir: Path) -> None:
    """What the platform writes (case keys, password hashes, streams) is its owner's alone: new files
    0600 and folders 0700 from here on (the process's umask), and those an earlier version left
    readable by others are tightened."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True)
    tightened = 0
    for path in (data_dir, *data_dir.rglob("*")):
        with contextlib.suppress(FileNotFoundError):  # a file removed while walking (a WAL, a lock)
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode) or not info.st_mode & 0o077:
                continue
            path.chmod(stat.S_IMODE(info.st_mode) & 0o700)
            tightened += 1
    if tightened:
        log.info(
            "data directory %s: %d files and folders made readable by their owner only", data_dir, tightened
        )


def http_server(settings: PlatformSettings, app: FastAPI, *, lifespan: bool = True) -> uvicorn.Server:
    """The HTTP server of ``app``; without ``lifespan`` when its caller has already started the platform."""
    # proxy_headers off: uvicorn would otherwise believe X-Forwarded-For from 127.0.0.1 by default;
    # sign-in reads it only from SHAKTI_TRUSTED_PROXIES (shakti.signin.client_address).
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        lifespan="auto" if lifespan else "off",
        log_config=None,
        access_log=settings.access_log,
        proxy_headers=False,
    )
    return uvicorn.Server(config)


@dataclass(frozen=True)
class Mode:
    """What a way of running adds to the plain platform (the demo is one): data loaded once the
    platform answers and before the summary, lines of its own in the summary, and work that goes on
    in the background until the platform stops."""

    name: str
    load: AfterStart | None = None
    summary: Sequence[tuple[str, str, str]] = ()
    """Rows of the summary: English label, value, Hindi label."""
    keep_going: AfterStart | None = None
    clock: Clock | None = None
    """The clock the services run on (the demo's starts in the past to record its history)."""


def summary(settings: PlatformSettings, url: str, nats_url: str, mode: Mode | None, logs: LogOutput) -> Panel:
    """The framed summary that ends ``shakti up``'s start-up: everything a person needs to go on."""
    # English label, value, Hindi label: terminals differ in how wide they draw Hindi, so nothing that
    # must line up comes after Hindi text.
    rows = Table.grid(padding=(0, 2))
    rows.add_column(style="bold", no_wrap=True)
    rows.add_column(overflow="fold")
    rows.add_column(style="dim", no_wrap=True)
    embedded = "" if settings.nats_url else " (embedded / अंतर्निहित)"
    lines = [
        ("Open", f"{url}/", "खोलें"),
        ("Data", str(settings.data_dir.resolve()), "डेटा"),
        ("Keys", str(settings.keys_dir.resolve()), "कुंजियाँ"),
        ("NATS", f"{without_credentials(nats_url)}{embedded}", ""),
        *(mode.summary if mode else ()),
    ]
    if logs.quiet_once_started:
        lines.append(
            (
                "Logs",
                "only warnings and errors from now (SHAKTI_LOG_LEVEL=info: everything) / "
                "अब केवल चेतावनियाँ और त्रुटियाँ",
                "लॉग",
            )
        )
    lines.append(("Stop", "Ctrl-C (starting again resumes) / Ctrl-C (फिर शुरू करने पर आगे चलता है)", "रोकें"))
    for line in lines:
        rows.add_row(*line)
    title = "Mission Shakti is running · मिशन शक्ति चल रहा है"
    if mode is not None:
        title += f" · {mode.name}"
    # Top and bottom rules only, for the same reason: a right border would come out ragged.
    return Panel(
        rows, title=title, title_align="left", border_style="green", box=box.HORIZONTALS, expand=False
    )


def server_urls(urls: str) -> list[str]:
    """Comma-separated server URLs, split only before a scheme: a password may hold a comma."""
    return [url.strip() for url in re.split(r",(?=\s*[a-z]+://)", urls) if url.strip()]


def without_credentials(urls: str) -> str:
    """Server URLs as they may be shown: users and passwords left out."""
    shown = []
    for url in server_urls(urls):
        parts = urlsplit(url)
        shown.append(urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1])))
    return ",".join(shown)


async def serve(
    settings: PlatformSettings,
    app: FastAPI,
    *,
    sock: socket.socket,
    nats_url: str,
    logs: LogOutput,
    console: Console,
    mode: Mode | None = None,
    show_summary: bool = True,
) -> None:
    """Serve until SIGINT/SIGTERM; uvicorn's shutdown stops the services in reverse order."""
    server = http_server(settings, app)
    url = f"http://{settings.http_host}:{settings.http_port}"

    async def when_started() -> None:
        while not server.started:
            if server.should_exit:
                return
            await asyncio.sleep(0.1)
        loaded = True
        if mode is not None and mode.load is not None:
            try:
                await mode.load(app, url)
            except Exception as error:
                loaded = False
                log.error("%s: could not be loaded (%s: %s)", mode.name, type(error).__name__, error)
        if show_summary:
            console.print(summary(settings, url, nats_url, mode, logs))
        else:
            log.info("listening on %s", url)
        logs.started()
        if loaded and mode is not None and mode.keep_going is not None:
            going: asyncio.Future[None] = asyncio.ensure_future(mode.keep_going(app, url))
            # Stopped as soon as a stop is asked for: once uvicorn closes its socket, every request the
            # mode still sends would fail and say so in the log.
            while not server.should_exit:
                done, _ = await asyncio.wait({going}, timeout=0.1)
                if done:
                    break
            going.cancel()
            try:
                await going
            except asyncio.CancelledError:
                pass
            except Exception as error:
                log.error("%s stopped (%s)", mode.name, type(error).__name__)

    watcher = asyncio.create_task(when_started())
    # uvicorn stops gracefully on SIGINT and SIGTERM; a closed terminal (SIGHUP) stops it the same way.
    hangup = signal.signal(signal.SIGHUP, server.handle_exit)
    try:
        await server.serve(sockets=[sock])
    finally:
        signal.signal(signal.SIGHUP, hangup)
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await watcher


def run(
    settings: PlatformSettings,
    names: Sequence[str] = SERVICES,
    *,
    web: bool = True,
    mode: Mode | None = None,
    show_summary: bool = False,
    console: Console | None = None,
) -> None:
    """Run until stopped. Raises ``CannotListen`` (before anything starts) when the port is taken."""
    logs = configure_logging(settings)
    if "intake" in names:
        require_kek(settings)
    out = console or Console()
    sock = http_socket(settings)
    # uvicorn re-raises the signal it handled once it has shut down. SIGTERM (what systemd, Docker and
    # Kubernetes send) would then kill the process before the embedded NATS server is stopped, leaving
    # it running: make it end like Ctrl-C. So does SIGHUP (the terminal closed).
    keep_private(settings.data_dir)
    previous = {sig: signal.signal(sig, _stop_like_ctrl_c) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        with sock, nats_for(settings) as nats_url:
            if settings.nats_url:  # the embedded server answers once nats_for has started it
                # The web front's own part, the user directory's writer, connects too.
                parts = [*names, *((USERS_PART,) if web else ())]
                logins = [NatsLogin(name, settings.nats_options(name)) for name in parts]
                wait_for_nats(
                    nats_url, partial(out.print, markup=False) if show_summary else log.warning, logins
                )
            clock = mode.clock if mode is not None else None
            app = build_platform(
                settings, runners(settings, nats_url, names, clock=clock), web=web, nats_url=nats_url
            )
            # The re-raised Ctrl-C arrives after uvicorn's clean shutdown.
            with contextlib.suppress(KeyboardInterrupt):
                asyncio.run(
                    serve(
                        settings, app, sock=sock, nats_url=nats_url, logs=logs, console=out, mode=mode,
                        show_summary=show_summary,
                    )
                )  # fmt: skip
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if show_summary:
        out.print("Mission Shakti stopped. / मिशन शक्ति रुक गया।")
    else:
        log.info("stopped")


def require_kek(settings: PlatformSettings) -> None:
    """keys: intake refuses to start without its key-encryption key; say so (in both languages) before
    anything starts, rather than as a failed start-up deep in the services."""
    from services.intake.kek import KekUnavailable, load_kek_ring

    try:
        load_kek_ring(settings)
    except KekUnavailable as missing:
        print(f"{missing.en}\n{missing.hi}", file=sys.stderr)
        raise SystemExit(1) from None


def _stop_like_ctrl_c(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@contextlib.asynccontextmanager
async def running(
    settings: PlatformSettings, app: FastAPI, timeout: float = 60.0, *, lifespan: bool = True
) -> AsyncIterator[str]:
    """Serve ``app`` in the background of the current event loop for the block; yields its URL.
    ``lifespan=False`` serves a platform whose lifespan the caller has entered already."""
    server = http_server(settings, app, lifespan=lifespan)
    # The embedding program owns the signals (Ctrl-C stops it, not only this server).
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(timeout):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("the HTTP server stopped while starting")
                await asyncio.sleep(0.05)
        yield f"http://{settings.http_host}:{settings.http_port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await task
