"""What stands between the network and the routes of every HTTP process (``build_app`` installs it):
security headers on every answer, a cap on the size of request bodies, and a CSRF check on requests
that a browser sends with the session cookie.

**CSRF without a shared secret.** A form's token is a hash of the cookie that authenticates the
browser: the session cookie, or before sign-in a random pre-session cookie set with the sign-in page.
A page on another site can make the browser *send* the cookie, but can neither read it (same-origin
policy; the cookie is ``HttpOnly``) nor read our pages to copy the token (same-origin policy; the
pages refuse to be framed), nor guess it (the session cookie is a signed token, the pre-session one
has 256 random bits). So a request carrying the right token came from one of our own pages. Every
replica computes the same token from the same cookie: no state and no key to share, and it works
from the cookie's raw value whatever the token format is. Over HTTPS the pre-session cookie is named
``__Host-…`` so that a sibling site cannot plant one of its own (login CSRF). Requests carrying an
``Authorization: Bearer`` token are not cookie-authenticated (a browser never adds one by itself to
a cross-site request) and need no token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from fastapi import HTTPException
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.auth import COOKIE

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

CSRF_FIELD = "csrf_token"
"""The hidden field of every form of the web front."""
CSRF_HEADER = "x-csrf-token"
"""Where a script calling the API with the session cookie puts the token."""
PRESESSION_COOKIE = "shakti_presession"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM = "application/x-www-form-urlencoded"
UPLOAD = "multipart/form-data"

POLICY: dict[str, tuple[str, ...]] = {
    # Pages are server-rendered HTML and one style sheet: no inline script or style, no framing. One
    # script file of our own keeps the notification bell's count live (Server-Sent Events, same origin).
    "default-src": ("'none'",),
    "script-src": ("'self'",),
    "connect-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'",),
    "form-action": ("'self'",),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'none'",),
}


def content_security_policy(*, inline_styles: tuple[str, ...] = (), scripts: bool = True) -> str:
    """The policy of every answer; a page with a fixed ``<style>`` block of its own names it by hash,
    and a page that has no script (``scripts=False``) allows none."""
    policy = dict(POLICY)
    policy["style-src"] += tuple(f"'sha256-{_digest(style)}'" for style in inline_styles)
    if not scripts:
        del policy["script-src"], policy["connect-src"]
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in policy.items())


def inline_style_policy(template_source: str) -> str:
    """The policy for a standalone template (a printable page: no script, not even the bell's) whose
    ``<style>`` blocks are fixed text (no template expressions)."""
    styles = tuple(re.findall(r"<style>(.*?)</style>", template_source, flags=re.DOTALL))
    if any("{{" in style or "{%" in style for style in styles):
        raise ValueError("a style block with template expressions cannot be allowed by its hash")
    if "<script" in template_source:
        raise ValueError("a standalone page allows no script")
    return content_security_policy(inline_styles=styles, scripts=False)


SECURITY_HEADERS: tuple[tuple[str, str], ...] = (
    ("content-security-policy", content_security_policy()),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)

TOO_LARGE = {
    "code": "too_large",
    "en": "The request is too large.",
    "hi": "अनुरोध बहुत बड़ा है।",
}
CSRF_REFUSED = {
    "code": "csrf",
    "en": "This form has expired or did not come from this site. Open the page again and resend it.",
    "hi": "यह फ़ॉर्म पुराना हो गया है या इस साइट से नहीं आया। पृष्ठ फिर से खोलें और दोबारा भेजें।",
}


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def csrf_token(cookie_value: str) -> str:
    """The token that proves a request came from a page that could read this cookie's pages."""
    digest = hashlib.sha256(b"shakti-csrf\x00" + cookie_value.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def presession_cookie(secure: bool) -> str:
    return f"__Host-{PRESESSION_COOKIE}" if secure else PRESESSION_COOKIE


def form_token(cookies: Mapping[str, str], *, secure: bool) -> tuple[str, str | None]:
    """The token for the forms of a page, and the value of a new pre-session cookie to set (or None)."""
    held = cookies.get(COOKIE) or cookies.get(presession_cookie(secure))
    if held:
        return csrf_token(held), None
    fresh = secrets.token_urlsafe(32)
    return csrf_token(fresh), fresh


class BodyTooLarge(HTTPException):
    """Raised while a body without a declared length is read past the limit (answered as 413)."""

    def __init__(self) -> None:
        super().__init__(413, detail=TOO_LARGE)


class HttpGuard:
    """The pure ASGI middleware: headers, body limits and the CSRF check (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, secure_cookies: bool, body_limit: int, upload_limit: int) -> None:
        self.app = app
        self.secure_cookies = secure_cookies
        self.body_limit = body_limit
        self.upload_limit = upload_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(scope["path"], send)
        headers = Headers(scope=scope)
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        limit = self.upload_limit if content_type == UPLOAD else self.body_limit
        declared = headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, send, 413, TOO_LARGE)
            return
        receive = _capped(receive, limit)
        if self._needs_token(scope, headers):
            expected = self._expected_token(headers)
            given = headers.get(CSRF_HEADER)
            if given is None and content_type in (FORM, UPLOAD):
                try:
                    given, receive = await _form_field(receive, CSRF_FIELD, headers.get("content-type", ""))
                except BodyTooLarge:
                    await _refuse(scope, send, 413, TOO_LARGE)
                    return
            if expected is None or given is None or not hmac.compare_digest(given, expected):
                await _refuse(scope, send, 403, CSRF_REFUSED)
                return
        await self.app(scope, receive, send)

    def _needs_token(self, scope: Scope, headers: Headers) -> bool:
        """A state-changing request that rides on the browser's cookies: any one carrying the session
        cookie, and any form posted to a page (signing in creates a session: login CSRF)."""
        if scope["method"] in SAFE_METHODS or _bearer(headers):
            return False
        cookies = cookie_parser(headers.get("cookie", ""))
        return COOKIE in cookies or not str(scope["path"]).startswith("/api/")

    def _expected_token(self, headers: Headers) -> str | None:
        cookies = cookie_parser(headers.get("cookie", ""))
        held = cookies.get(COOKIE) or cookies.get(presession_cookie(self.secure_cookies))
        return csrf_token(held) if held else None

    @staticmethod
    def _with_headers(path: str, send: Send) -> Send:
        # Static files are the same for everyone; every other answer is per caller (or a refusal,
        # or a page with a form token) and no browser or proxy may keep it.
        cacheable = path.startswith("/static/")

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS:
                    headers.setdefault(name, value)
                if not cacheable:
                    headers.setdefault("cache-control", "no-store")
            await send(message)

        return sending


def _bearer(headers: Headers) -> bool:
    """A bearer token, which a browser never adds on its own (unlike cookies, or Basic credentials it
    has cached); an empty one would let the session cookie speak instead, so it does not count."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _capped(receive: Receive, limit: int) -> Receive:
    received = 0

    async def receiving() -> Message:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge()
        return message

    return receiving


async def _form_field(receive: Receive, name: str, content_type: str) -> tuple[str | None, Receive]:
    """One field of a form's body (URL-encoded, or multipart when the form sends a file), and a
    ``receive`` that hands the whole body on unchanged. The body is already capped by its limit."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    if content_type.split(";")[0].strip().lower() == UPLOAD:
        value = _multipart_field(body, content_type, name)
    else:
        values = parse_qs(body.decode("latin-1"), keep_blank_values=True).get(name)
        value = values[0] if values else None
    replayed = False

    async def replaying() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return value, replaying


@dataclass
class _Part:
    """The multipart part being read: its headers so far, and its value when it is the wanted field."""

    header_name: bytes = b""
    header_value: bytes = b""
    name: str = ""
    is_file: bool = False
    value: bytes = b""


def _multipart_field(body: bytes, content_type: str, name: str) -> str | None:
    """A plain (not file) field of a multipart body, by its name; None when absent or unreadable."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return None
    part = _Part()
    found: list[bytes] = []

    def wanted() -> bool:
        return part.name == name and not part.is_file

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        if part.header_name.lower() == b"content-disposition":
            _, disposition = parse_options_header(part.header_value)
            part.name = disposition.get(b"name", b"").decode("utf-8", "replace")
            part.is_file = b"filename" in disposition
        part.header_name, part.header_value = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if wanted():
            part.value += data[start:end]

    def on_part_end() -> None:
        if wanted():
            found.append(part.value)

    callbacks: MultipartCallbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        return None
    return found[0].decode("utf-8", "replace") if found else None


async def _refuse(scope: Scope, send: Send, status: int, detail: dict[str, str]) -> None:
    """JSON for API callers; a small page in both languages for a browser's form."""
    if str(scope["path"]).startswith("/api/"):
        body = json.dumps({"detail": detail}, ensure_ascii=False).encode()
        content_type = "application/json"
    else:
        body = _refusal_page(status, detail).encode()
        content_type = "text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _refusal_page(status: int, detail: dict[str, str]) -> str:
    return (
        '<!doctype html><html lang="hi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{status} · मिशन शक्ति / Mission Shakti</title>"
        '<link rel="stylesheet" href="/static/shakti.css"></head><body><main><section class="card">'
        f'<h1>{status}</h1><p class="error" lang="hi">{escape(detail["hi"])}</p>'
        f'<p class="error" lang="en">{escape(detail["en"])}</p>'
        '<p><a href="/">मुख्य पृष्ठ / Home</a></p></section></main></body></html>'
    )
