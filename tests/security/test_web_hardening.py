"""Web hardening (issue 12, item 10): CSRF tokens on every form, cookie flags, security headers on
every answer, a body-size limit in the app itself, length limits and no control characters in every
request field, operational routes kept off the public door, TLS in the deployment files.

Each test was seen failing before the hardening it checks."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import re
import shutil
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.launcher import running
from shakti.platform import build_platform, runners
from shakti.users import UserStore, user_record
from shared.auth import COOKIE, Principal
from shared.natsserver import free_port
from shared.roles import Role
from tests.sessions import enrol, keys_for_tests

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
PASSWORD = "correct horse battery"
OPERATIONAL = ("/metrics", "/docs", "/redoc", "/openapi.json", "/asyncapi.json", "/api/ops/status")
TOKEN_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
MEGABYTE = 1024 * 1024


async def bearer(app: FastAPI, who: Principal) -> dict[str, str]:
    """A token for ``who``, written as it is into the platform's user directory."""
    return {"Authorization": f"Bearer {await enrol(app, who)}"}


def csrf_of(html: str) -> str:
    found = TOKEN_FIELD.search(html)
    assert found, "the page's form carries no csrf_token field"
    return found.group(1)


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each cookie the answer sets, by name, with its attributes (lower case)."""
    return {header.split("=", 1)[0]: header.lower() for header in response.headers.get_list("set-cookie")}


@dataclass
class Front:
    app: FastAPI
    client: httpx.AsyncClient
    users: UserStore

    def fresh_client(self) -> httpx.AsyncClient:
        """Another browser: no cookies of this one."""
        transport = httpx.ASGITransport(app=self.app, client=("10.9.8.7", 4444))
        return httpx.AsyncClient(transport=transport, base_url="http://shakti")


async def front_for(tmp_path: Path, nats_url: str, **settings: Any) -> AsyncIterator[Front]:
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    config = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests(), **settings)
    app = build_platform(config, [], users=users, nats_url=nats_url)
    async with app.router.lifespan_context(app):
        await users.add(user_record("ops.one", Role.OPERATOR), PASSWORD, actor="test")
        await users.add(user_record("sp.sjp", Role.SP, district="SJP"), PASSWORD, actor="test")
        transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5555))
        # A browser keeps Secure cookies for HTTPS pages only.
        scheme = "https" if config.secure_cookies else "http"
        async with httpx.AsyncClient(transport=transport, base_url=f"{scheme}://shakti") as client:
            yield Front(app, client, users)


@pytest.fixture
async def front(tmp_path: Path, nats_client: NatsClient, nats_url: str) -> AsyncIterator[Front]:
    """The web front and the platform's own routes (and the user directory), without the four services."""
    async for made in front_for(tmp_path, nats_url):
        yield made


async def sign_in(client: httpx.AsyncClient, username: str) -> httpx.Response:
    token = csrf_of((await client.get("/signin")).text)
    return await client.post(
        "/signin", data={"username": username, "password": PASSWORD, "csrf_token": token}
    )


# ---- CSRF --------------------------------------------------------------------------------------


async def test_sign_in_needs_the_pre_session_token_of_its_own_form(front: Front) -> None:
    page = await front.client.get("/signin")
    token = csrf_of(page.text)
    credentials = {"username": "sp.sjp", "password": PASSWORD}

    missing = await front.client.post("/signin", data=credentials)
    wrong = await front.client.post("/signin", data={**credentials, "csrf_token": "A" * len(token)})
    for refused in (missing, wrong):
        assert refused.status_code == 403, refused.status_code
        assert "text/html" in refused.headers["content-type"]
        assert "form" in refused.text.lower() and "फ़ॉर्म" in refused.text  # both languages
        assert COOKIE not in refused.cookies
    # The token is bound to this browser's pre-session cookie: another browser cannot replay it
    # (a cross-site page posting the form has neither the cookie's value nor the token).
    async with front.fresh_client() as stranger:
        replayed = await stranger.post("/signin", data={**credentials, "csrf_token": token})
        assert replayed.status_code == 403 and COOKIE not in replayed.cookies

    accepted = await front.client.post("/signin", data={**credentials, "csrf_token": token})
    assert accepted.status_code == 303 and accepted.headers["location"] == "/dashboard"
    assert COOKIE in accepted.cookies


async def test_forms_of_a_signed_in_user_need_the_token_of_the_session(front: Front) -> None:
    assert (await sign_in(front.client, "ops.one")).status_code == 303
    page = await front.client.get("/operations")
    assert page.status_code == 200
    token = csrf_of(page.text)
    forms = re.findall(r"<form\b[^>]*method=\"post\"[^>]*>(.*?)</form>", page.text, flags=re.S)
    assert forms and all(f'name="csrf_token" value="{token}"' in form for form in forms)

    refused = await front.client.post("/signout")
    assert refused.status_code == 403
    assert COOKIE in front.client.cookies, "a refused sign-out changes nothing"
    # The API answers a cookie the same way: a browser sends the cookie to /api/ as well.
    # Cached Basic credentials ride along like cookies; an empty bearer token leaves the cookie to speak.
    for headers in (
        {},
        {"X-CSRF-Token": "forged"},
        {"Authorization": "Basic b3BzOm9wcw=="},
        {"Authorization": "Bearer "},
    ):
        api = await front.client.post("/api/ops/parked/retry", json={}, headers=headers)
        assert api.status_code == 403 and api.json()["detail"]["code"] == "csrf", api.text
        assert api.json()["detail"]["hi"]
    with_header = await front.client.post("/api/ops/parked/retry", json={}, headers={"X-CSRF-Token": token})
    assert not (with_header.status_code == 403 and "csrf" in with_header.text)
    # A bearer token is not sent by a browser on its own: such calls need no CSRF token.
    async with front.fresh_client() as api_client:
        operator = await bearer(front.app, Principal(username="ops.one", role=Role.OPERATOR))
        called = await api_client.post("/api/ops/parked/retry", json={}, headers=operator)
        assert "csrf" not in called.text

    signed_out = await front.client.post("/signout", data={"csrf_token": token})
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signin"


# ---- cookies -------------------------------------------------------------------------------------


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
async def test_cookies_are_httponly_samesite_and_secure_over_https(
    tmp_path: Path, https: bool, nats_client: NatsClient, nats_url: str
) -> None:
    async for front in front_for(tmp_path, nats_url, secure_cookies=https):
        page = await front.client.get("/signin")
        signed_in = await sign_in(front.client, "sp.sjp")
        language = await front.client.get("/lang/en", params={"next": "/signin"})
        cookies = {**set_cookies(page), **set_cookies(signed_in), **set_cookies(language)}
        assert any(COOKIE in name for name in cookies), cookies
        assert len(cookies) >= 3, cookies  # pre-session, session, language
        for name, attributes in cookies.items():
            assert "httponly" in attributes, name
            assert re.search(r"samesite=(lax|strict)", attributes), name
            assert ("; secure" in attributes) is https, (name, attributes)
            if https and "presession" in name:
                assert name.startswith("__Host-"), "a sibling site cannot plant a __Host- cookie"


# ---- headers -------------------------------------------------------------------------------------


def csp(response: httpx.Response) -> dict[str, str]:
    policy = response.headers.get("content-security-policy", "")
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


async def test_every_answer_carries_the_security_headers(front: Front) -> None:
    operator = await bearer(front.app, Principal(username="ops.one", role=Role.OPERATOR))
    answers = {
        "sign-in page": await front.client.get("/signin"),
        "redirect": await front.client.get("/"),
        "health": await front.client.get("/healthz"),
        "unknown path": await front.client.get("/no/such/page"),
        "refused API call": await front.client.get("/api/ops/status"),
        "operator API": await front.client.get("/api/ops/status", headers=operator),
        "token": await front.client.post("/api/auth/token", json={"username": "sp.sjp", "password": PASSWORD}),
        "bad JSON": await front.client.post("/api/auth/token", content=b"{", headers={"Content-Type": "application/json"}),
        "stylesheet": await front.client.get("/static/shakti.css"),
    }  # fmt: skip
    for what, response in answers.items():
        policy = csp(response)
        assert policy.get("default-src") == "default-src 'none'", (what, policy)
        assert policy.get("frame-ancestors") == "frame-ancestors 'none'", what
        assert "'unsafe-inline'" not in response.headers["content-security-policy"], what
        assert response.headers.get("x-content-type-options") == "nosniff", what
        assert response.headers.get("referrer-policy") == "no-referrer", what
        assert response.headers.get("x-frame-options") == "DENY", what
        if what != "stylesheet":
            assert response.headers.get("cache-control") == "no-store", what


# ---- body size -------------------------------------------------------------------------------------


def ten_megabytes_of_json() -> bytes:
    return json.dumps({"username": "x", "password": "y", "padding": "z" * (10 * MEGABYTE)}).encode()


async def test_a_ten_megabyte_json_body_is_refused_without_being_read(front: Front) -> None:
    sized = await front.client.post(
        "/api/auth/token", content=ten_megabytes_of_json(), headers={"Content-Type": "application/json"}
    )
    assert sized.status_code == 413, sized.status_code
    detail = sized.json()["detail"]
    assert detail["code"] == "too_large" and detail["en"] and detail["hi"]

    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        body = ten_megabytes_of_json()
        for start in range(0, len(body), 16 * 1024):
            sent += 1
            yield body[start : start + 16 * 1024]

    # No Content-Length (chunked): counted as it arrives, refused once past the limit.
    streamed = await front.client.post(
        "/api/auth/token", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413, streamed.status_code
    limit = front.app.state.settings.body_limit_bytes
    assert sent * 16 * 1024 <= limit + 32 * 1024, f"{sent} chunks of 16 KiB were read before the refusal"


async def test_a_large_form_is_refused_in_both_languages(front: Front) -> None:
    token = csrf_of((await front.client.get("/signin")).text)
    response = await front.client.post(
        "/signin", data={"username": "u" * MEGABYTE, "password": "p", "csrf_token": token}
    )
    assert response.status_code == 413
    assert "बहुत बड़ा" in response.text and "too large" in response.text.lower()


# ---- operational routes ------------------------------------------------------------------------------


async def test_api_documents_need_a_signed_in_user_and_the_interactive_pages_are_off(front: Front) -> None:
    sp = await bearer(front.app, Principal(username="sp.sjp", role=Role.SP, district="SJP"))
    for path in ("/openapi.json", "/asyncapi.json"):
        assert (await front.client.get(path)).status_code == 401, path
        assert (await front.client.get(path, headers=sp)).status_code == 200, path
    for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
        assert (await front.client.get(path, headers=sp)).status_code == 404, path


async def test_operator_routes_need_the_operator_role_and_probes_stay_open(front: Front) -> None:
    from tests.test_access_matrix import admitted, flatten

    ops = [e for e in flatten(front.app.routes) if e.path.startswith("/api/ops/")]
    assert len(ops) >= 5
    sp = await bearer(front.app, Principal(username="sp.sjp", role=Role.SP, district="SJP"))
    for endpoint in ops:
        assert admitted(endpoint) == frozenset({Role.OPERATOR}), endpoint.path
        for method in endpoint.route.methods or ():
            path = endpoint.path.replace("{service}", "intake")
            assert (await front.client.request(method, path)).status_code == 401, path
            assert (await front.client.request(method, path, headers=sp)).status_code == 403, path
    for probe in ("/healthz", "/readyz", "/metrics"):
        assert (await front.client.get(probe)).status_code == 200, probe


# ---- the deployment files ------------------------------------------------------------------------------


def nginx_locations(conf: str) -> list[tuple[str, str, str]]:
    """(modifier, path, body) of each ``location`` block (bodies have no nested braces here)."""
    return re.findall(r"location\s+(=|\^~)?\s*(\S+)\s*\{([^}]*)\}", conf)


def chosen_location(conf: str, path: str) -> str:
    """The body nginx picks for ``path``: an exact match, else the longest prefix (no regex locations)."""
    locations = nginx_locations(conf)
    assert not [p for m, p, _ in locations if m not in ("", "=", "^~")], "regex locations are not modelled"
    for modifier, prefix, body in locations:
        if modifier == "=" and prefix == path:
            return body
    prefixes = [(p, b) for m, p, b in locations if m != "=" and path.startswith(p)]
    assert prefixes, path
    return max(prefixes, key=lambda pb: len(pb[0]))[1]


def gateway_configs() -> dict[str, str]:
    k8s = next(
        d
        for d in yaml.safe_load_all((DEPLOY / "k8s" / "gateway.yaml").read_text())
        if d["kind"] == "ConfigMap"
    )
    return {"compose": (DEPLOY / "gateway" / "nginx.conf").read_text(), "k8s": k8s["data"]["nginx.conf"]}


@pytest.mark.parametrize(
    "path", [*OPERATIONAL, "/api/ops/parked", "/metrics/", "/docs/oauth2-redirect", "/readyz"]
)
def test_the_gateways_do_not_route_operational_paths(path: str) -> None:
    for where, conf in gateway_configs().items():
        body = chosen_location(conf, path)
        assert "proxy_pass" not in body and re.search(r"return\s+404", body), (where, path, body)
    for where, conf in gateway_configs().items():  # the platform itself still goes through
        for open_path in ("/", "/signin", "/static/shakti.css", "/api/intake/cases", "/api/auth/token"):
            assert "proxy_pass" in chosen_location(conf, open_path), (where, open_path)


def test_the_compose_gateway_serves_tls_from_mounted_files() -> None:
    conf = (DEPLOY / "gateway" / "nginx.conf").read_text()
    listens = re.findall(r"listen\s+([^;]+);", conf)
    # Plain HTTP on loopback only (the web front's own calls); beyond it, TLS alone.
    assert sorted(listens) == ["${GATEWAY_ADDRESS}:${GATEWAY_TLS_PORT} ssl", "127.0.0.1:${GATEWAY_PORT}"]
    certificate = re.search(r"ssl_certificate\s+(\S+);", conf)
    key = re.search(r"ssl_certificate_key\s+(\S+);", conf)
    assert certificate and key
    assert re.search(r"ssl_protocols\s+TLSv1\.2\s+TLSv1\.3;", conf)
    assert "Strict-Transport-Security" in conf
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    gateway = compose["services"]["gateway"]
    mounts = {volume.split(":")[-2]: volume for volume in gateway["volumes"]}
    folder = str(Path(certificate.group(1)).parent)
    assert folder in mounts and mounts[folder].endswith(":ro"), mounts
    assert str(Path(key.group(1)).parent) == folder
    assert "GATEWAY_TLS_PORT" in gateway["environment"]
    assert compose["services"]["web"]["environment"].get("SHAKTI_SECURE_COOKIES") == "true"
    readme = (DEPLOY / "README.md").read_text()
    assert certificate.group(1).rsplit("/", 1)[-1] in readme and "openssl req" in readme


def test_the_ingress_terminates_tls_and_turns_on_secure_cookies() -> None:
    documents = [d for f in (DEPLOY / "k8s").glob("*.yaml") for d in yaml.safe_load_all(f.read_text()) if d]
    (ingress,) = [d for d in documents if d["kind"] == "Ingress"]
    (tls,) = ingress["spec"]["tls"]
    assert tls["secretName"] and tls["hosts"]
    assert {rule["host"] for rule in ingress["spec"]["rules"]} == set(tls["hosts"])
    config = next(
        d for d in documents if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "shakti-config"
    )
    assert config["data"].get("SHAKTI_SECURE_COOKIES") == "true"
    assert tls["secretName"] in (DEPLOY / "README.md").read_text()


# ---- with the four services --------------------------------------------------------------------------


@dataclass
class Platform:
    app: FastAPI
    client: httpx.AsyncClient
    case_id: str
    officer: Principal


@pytest.fixture
async def platform(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[Platform]:
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=30.0) as client:
            loader = DemoLoader(app, client)
            registrar, _ = await loader.roster(await loader.jurisdiction())
            officer = Principal(
                username="katra.officer", role=Role.KENDRA_OFFICER, service_number=registrar["SJP-KATRA"],
                district="SJP", circle="SJP-TILHAR", thana="SJP-KATRA",
            )  # fmt: skip
            body = {
                "channel": "walk_in", "category": "stalking", "description": "DEMO statement", "district": "SJP",
                "thana": "SJP-KATRA", "minor": False, "danger_now": False, "identity": {"name": "DEMO Hardening"},
            }  # fmt: skip
            registered = await client.post(
                "/api/intake/cases",
                json=body,
                headers={**await bearer(app, officer), "Idempotency-Key": "h1"},
            )
            assert registered.status_code == 201, registered.text
            yield Platform(app, client, registered.json()["case_id"], officer)


def request_strings(document: dict[str, Any]) -> list[str]:
    """Every string a request may carry (body fields at any depth, items of lists, parameters) that has
    no maxLength, by where it is."""
    schemas = document["components"]["schemas"]
    unbounded: list[str] = []

    def walk(schema: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], f"{where}<{name}>", seen | {name})
            return
        for combined in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(combined, []):
                walk(option, where, seen)
        kind = schema.get("type")
        bounded = "maxLength" in schema or "enum" in schema or "const" in schema
        # Files are bounded by the upload limit; dates and times by their format.
        parsed = schema.get("format") in ("binary", "date", "date-time") or "contentMediaType" in schema
        if kind == "string" and not bounded and not parsed:
            unbounded.append(where)
        for name, field in schema.get("properties", {}).items():
            walk(field, f"{where}.{name}", seen)
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{where}[]", seen)
        if isinstance(schema.get("additionalProperties"), dict):
            walk(schema["additionalProperties"], f"{where}{{}}", seen)

    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            for parameter in operation.get("parameters", []):
                walk(
                    parameter["schema"],
                    f"{method.upper()} {path} {parameter['in']}:{parameter['name']}",
                    frozenset(),
                )
            for media in operation.get("requestBody", {}).get("content", {}).values():
                walk(media["schema"], f"{method.upper()} {path} body", frozenset())
    return unbounded


async def test_every_request_string_of_the_platform_has_a_length_limit(platform: Platform) -> None:
    platform.app.openapi_schema = None
    document = platform.app.openapi()
    assert len(document["paths"]) > 40
    assert request_strings(document) == []


async def test_control_characters_are_refused_in_names_and_one_line_fields(platform: Platform) -> None:
    operator = await bearer(platform.app, Principal(username="ops", role=Role.OPERATOR))
    secret = "Hidden\x00Name"
    enrolment = {"service_number": "PNO777001", "name": secret, "rank": "constable", "gender": "female"}
    refused = await platform.client.post("/api/routing/officers", json=enrolment, headers=operator)
    assert refused.status_code == 422, refused.text
    fields = refused.json()["detail"]["fields"]
    assert [f["field"] for f in fields] == ["name"] and fields[0]["hi"] and fields[0]["en"]
    assert "Hidden" not in refused.text

    long_rank = await platform.client.post(
        "/api/routing/officers",
        json={**enrolment, "name": "DEMO Rank", "rank": "r" * 10_000},
        headers=operator,
    )
    assert long_rank.status_code == 422 and "rrrr" not in long_rank.text

    staff = {**await bearer(platform.app, platform.officer), "Idempotency-Key": "h-control"}
    for where, identity, extra in (
        ("identity.name", {"name": "Sita\x07Devi"}, {}),
        ("identity.phone", {"phone": "98765\x0043210"}, {}),
        ("locality", {}, {"locality": "Mohalla\x1b[31m"}),
        ("description", {}, {"description": "line one\nline two\x00"}),
    ):
        body = {
            "channel": "walk_in", "category": "stalking", "description": "DEMO", "district": "SJP",
            "thana": "SJP-KATRA", "minor": False, "danger_now": False, "identity": identity, **extra,
        }  # fmt: skip
        answer = await platform.client.post("/api/intake/cases", json=body, headers=staff)
        assert answer.status_code == 422, (where, answer.text)
        assert where in [f["field"] for f in answer.json()["detail"]["fields"]], answer.text
        assert "Sita" not in answer.text and "Mohalla" not in answer.text and "line one" not in answer.text
    # Several lines stay allowed where a person writes several lines.
    body = {
        "channel": "walk_in", "category": "stalking", "description": "DEMO line one\r\nline two\tend",
        "district": "SJP", "thana": "SJP-KATRA", "minor": False, "danger_now": False, "identity": {},
    }  # fmt: skip
    assert (await platform.client.post("/api/intake/cases", json=body, headers=staff)).status_code == 201


async def test_uploads_have_their_own_larger_limit(platform: Platform) -> None:
    operator = await bearer(platform.app, Principal(username="ops", role=Role.OPERATOR))
    sheet = b"service_number,name,rank,gender,kendra,incharge\n" + b"# DEMO padding line\n" * 20_000
    assert len(sheet) > platform.app.state.settings.body_limit_bytes
    accepted = await platform.client.post(
        "/api/routing/roster/import", files={"file": ("roster.csv", sheet, "text/csv")}, headers=operator
    )
    assert accepted.status_code != 413, accepted.text
    huge = await platform.client.post(
        "/api/routing/roster/import",
        files={"file": ("roster.csv", b"#" * (40 * MEGABYTE), "text/csv")},
        headers=operator,
    )
    assert huge.status_code == 413 and huge.json()["detail"]["hi"]


async def test_pages_and_answers_showing_an_identity_are_never_stored(platform: Platform) -> None:
    officer = await bearer(platform.app, platform.officer)
    answer = await platform.client.get(
        f"/api/intake/cases/{platform.case_id}/identity",
        params={"purpose": "contact_complainant"},
        headers=officer,
    )
    assert answer.status_code == 200 and "DEMO Hardening" in answer.text
    assert answer.headers["cache-control"] == "no-store"
    cookie = await enrol(platform.app, platform.officer)
    platform.client.cookies.set(COOKIE, cookie)
    page = await platform.client.get(f"/cases/{platform.case_id}")
    token = csrf_of(page.text)
    shown = await platform.client.post(
        f"/cases/{platform.case_id}/identity", data={"purpose": "contact_complainant", "csrf_token": token}
    )
    assert shown.status_code == 200 and "DEMO Hardening" in shown.text
    assert shown.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in shown.headers["content-security-policy"]


async def test_the_certificate_page_keeps_its_style_under_the_policy(platform: Platform) -> None:
    """The printable certificate has a style sheet of its own: allowed by its hash, nothing else inline."""
    from services.training.api import CERTIFICATE_POLICY, templates

    source = templates.loader.get_source(templates, "certificate.html")[0]  # type: ignore[union-attr]
    styles = re.findall(r"<style>(.*?)</style>", source, flags=re.S)
    assert styles and "<script" not in source and "onclick" not in source
    for style in styles:
        digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in CERTIFICATE_POLICY
    assert "frame-ancestors 'none'" in CERTIFICATE_POLICY and "'unsafe-inline'" not in CERTIFICATE_POLICY


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


async def test_the_compose_gateway_serves_tls_and_keeps_operational_routes_inside(
    tmp_path: Path, nats_client: NatsClient, nats_url: str
) -> None:
    """deploy/gateway/nginx.conf run by a real nginx in front of the platform, with a certificate made
    by the command deploy/README.md gives; only the addresses differ from compose."""
    tls = tmp_path / "tls"
    tls.mkdir()
    command = re.search(r"(openssl req .*?)\n\s*chmod", (DEPLOY / "README.md").read_text(), flags=re.S)
    assert command, "deploy/README.md gives the openssl command"
    made = await asyncio.create_subprocess_shell(
        command.group(1).replace("\\\n", " ").replace("deploy/gateway/tls/", f"{tls}/"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    assert await made.wait() == 0
    settings = PlatformSettings(
        data_dir=tmp_path, keys_dir=keys_for_tests(), http_port=free_port(), secure_cookies=True
    )
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, [], users=users, nats_url=nats_url)
    https_port, http_port = free_port(), free_port()
    # As compose's gateway command writes it (envsubst), every service at the one test platform.
    ports = {
        "GATEWAY_ADDRESS": "127.0.0.1", "GATEWAY_TLS_PORT": str(https_port), "GATEWAY_PORT": str(http_port),
        **{f"{part.upper()}_PORT": str(settings.http_port) for part in ("web", "intake", "routing", "escalation", "training", "notifications")},
    }  # fmt: skip
    conf = (DEPLOY / "gateway" / "nginx.conf").read_text()
    conf = re.sub(r"\$\{([A-Z_]+)\}", lambda m: ports[m[1]], conf)
    conf = conf.replace("/etc/nginx/tls/", f"{tls}/")
    conf = conf.replace("/dev/stdout", str(tmp_path / "logs" / "access.log"))
    (tmp_path / "logs").mkdir()
    (tmp_path / "nginx.conf").write_text(conf)
    async with running(settings, app):
        gateway = await asyncio.create_subprocess_exec(
            NGINX, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"),
            "-g", f"daemon off; pid {tmp_path / 'nginx.pid'}; error_log stderr;",
        )  # fmt: skip
        try:
            async with httpx.AsyncClient(
                base_url=f"https://localhost:{https_port}",
                verify=ssl.create_default_context(cafile=str(tls / "tls.crt")),
            ) as client:
                for _ in range(100):
                    with contextlib.suppress(httpx.TransportError):
                        page = await client.get("/signin")
                        break
                    await asyncio.sleep(0.05)
                assert page.status_code == 200 and "csrf_token" in page.text
                assert page.headers["strict-transport-security"].startswith("max-age=")
                assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
                assert "; secure" in page.headers["set-cookie"].lower()
                for path in (*OPERATIONAL, "/readyz", "/metrics/", "/api/ops/parked"):
                    assert (await client.get(path)).status_code == 404, path
                assert (await client.get("/healthz")).status_code == 200
                token = await client.post("/api/auth/token", json={"username": "x", "password": "y"})
                assert token.status_code == 401  # through the gateway to the platform
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{http_port}") as inside:
                assert (await inside.get("/signin")).status_code == 200
                assert (await inside.get("/metrics")).status_code == 404
        finally:
            gateway.terminate()
            await gateway.wait()


async def test_the_largest_valid_registration_fits_the_body_limit(platform: Platform) -> None:
    """The limit refuses what no valid request needs, never a registration at the fields' own limits
    (Hindi text, sent as JSON with \\u escapes as many clients do)."""
    hindi = "शिकायत"
    body = {
        "channel": "walk_in", "category": "stalking", "district": "SJP", "thana": "SJP-KATRA",
        "minor": False, "danger_now": False,
        "description": (hindi * 1000)[:5000],
        "identity": {
            "name": "DEMO " + "न" * 95, "address": "प" * 500, "locality": "म" * 100,
            "statement": (hindi * 2000)[:10_000],
        },
    }  # fmt: skip
    content = json.dumps(body, ensure_ascii=True).encode()
    assert len(content) > 64 * 1024
    staff = {**await bearer(platform.app, platform.officer), "Idempotency-Key": "h-largest"}
    answer = await platform.client.post(
        "/api/intake/cases", content=content, headers={**staff, "Content-Type": "application/json"}
    )
    assert answer.status_code == 201, answer.text
