"""What the notification tests share: an SMTP server (aiosmtpd) and an HTTP SMS gateway started by the
test, and the identity-leak search over every message any of them received (``SENT``)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from .identity import hits

SENT: list[tuple[str, str]] = []
"""(where, text) of every message handed over in these tests: mails, SMS bodies, web and outbox views."""


def witness(where: str, text: str) -> None:
    SENT.append((where, text))


@pytest.fixture(autouse=True)
def no_identity_in_any_message() -> Iterator[None]:
    """The identity-leak search runs over every message a test sent, after the test."""
    before = len(SENT)
    yield
    leaks = [hit for where, text in SENT[before:] for hit in hits(where, text)]
    assert leaks == [], leaks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mailbox:
    host: str
    port: int
    mails: list[Any] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append(mail)
        witness("e-mail", mail.get_content() + str(mail["Subject"]))
        return "250 OK"


@pytest.fixture
def smtp_server() -> Iterator[Mailbox]:
    """A real SMTP server on a free local port (aiosmtpd, in its own thread)."""
    box = Mailbox("127.0.0.1", free_port())
    controller = Controller(box, hostname=box.host, port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@dataclass
class Gateway:
    """An HTTP SMS gateway standing in for the real one: answers the first ``failures`` requests with
    503 (or holds them past the client's timeout when ``hang``), then accepts."""

    failures: int = 0
    hang: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        body = json.loads(await reader.readexactly(length))
        self.requests.append(body)
        failing = len(self.requests) <= self.failures
        if failing and self.hang:
            await asyncio.sleep(self.hang)
        if failing:
            status = b"503 Service Unavailable"
        else:
            status = b"202 Accepted"
            self.accepted.append(body)
            witness("sms", body["text"])
        answer = b'{"status":"ok"}'
        writer.write(
            b"HTTP/1.1 "
            + status
            + b"\r\nContent-Type: application/json\r\nContent-Length: "
            + str(len(answer)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + answer
        )
        await writer.drain()
        writer.close()


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    found = Gateway()
    server = await asyncio.start_server(found.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    found.url = f"http://127.0.0.1:{port}/sms"
    try:
        yield found
    finally:
        server.close()
