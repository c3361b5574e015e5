"""Roles x jurisdictions x endpoints: every API route and every page, called by every role from
inside and from outside the jurisdiction of a case, finds no access where there should be none.

The roles a route admits are read from its own ``require(...)`` guard; the test then checks that the
others are refused, that nobody outside the case's thana, circle or district sees the case, and that
the complainant's identity appears only in the one answer meant for it, to the roles that may read it.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from nats.aio.client import Client as NatsClient

from shakti.config import PlatformSettings
from shakti.demo import DemoLoader
from shakti.platform import build_platform, runners
from shakti.users import UserStore
from shared.auth import FIELD_STAFF, IDENTITY_READERS, SUPERVISORS, Principal
from shared.http_guard import CSRF_REFUSED, csrf_token
from shared.roles import Role
from tests.sessions import bearer, enrol, keys_for_tests
from tests.waiting import eventually

NAME, PHONE = "DEMO Matrix Secretname", "9812312345"
SCAN = f"%PDF-1.4 DEMO medical report of {NAME}, {PHONE}".encode()
PUBLIC = {"/api/auth/token", "/api/training/verify/{certificate_id}"}
HOME = {"district": "SJP", "circle": "SJP-TILHAR", "thana": "SJP-KATRA"}
AWAY_THANA = {"district": "SJP", "circle": "SJP-NAGAR", "thana": "SJP-KOTWALI"}
AWAY_DISTRICT = {"district": "BLY", "circle": "BLY-NAGAR", "thana": "BLY-KOTWALI"}
# Valid bodies for the commands on a case, so that a refusal is the guard's and not validation's.
BODIES: dict[str, dict[str, Any]] = {
    "first-contact": {"mode": "phone"},
    "actions": {"kind": "counselling"},
    "duplicate": {"duplicate_of": "0" * 32},
    "referrals": {"agency_kind": "one_stop_centre"},
    "notes": {"text": "DEMO note"},
    "awaiting-complainant": {"reason": "other"},
    "resolve": {"outcome": "other", "feedback_rating": 3},
    "close": {"reason": "other"},
    "reopen": {"reason": "other"},
    "withdraw": {"reason": "other"},
    "erase-identity": {"legal_basis": "court_order"},
    "acknowledge": {},
    "reassign": {"reason": "workload"},
    "transfer": {"thana": "SJP-KOTWALI", "reason": "wrong_thana"},
}


# Where each role sits to be inside the world's case (Katra thana, Tilhar circle, Shahjahanpur).
INSIDE: dict[Role, dict[str, str]] = {
    Role.KENDRA_OFFICER: HOME, Role.KENDRA_INCHARGE: HOME, Role.SHO: HOME,
    Role.CO: {"district": "SJP", "circle": "SJP-TILHAR"}, Role.ADDL_SP: {"district": "SJP"},
    Role.SP: {"district": "SJP"}, Role.STATE_CELL: {}, Role.OPERATOR: {},
    # The agency the world's case is referred to (Shahjahanpur's One Stop Centre).
    Role.AGENCY_DESK: {"district": "SJP", "agency": "SJP-OSC"},
}  # fmt: skip
OTHER_AGENCY = "SJP-DLSA"
"""An agency desk elsewhere: the world's case has no referral to it."""

# Every route that answers with or acts on case-level data (a case's id, number, place, clocks, story
# or identity), with the roles that reach it. The state cell gets figures only: it is in none of them.
# Operators reach routing's view of cases (queues, attention, a case's routing record) to look after
# the platform, never the register or an identity.
READERS = FIELD_STAFF | SUPERVISORS
LADDER = SUPERVISORS | {Role.KENDRA_INCHARGE}
INTAKE_COMMANDS = (
    "first-contact", "actions", "referrals", "attachments", "awaiting-complainant",
    "complainant-responded", "resolve", "close", "reopen", "withdraw", "duplicate",
    "withdraw-messages-consent",
)  # fmt: skip
CASE_LEVEL: dict[str, frozenset[Role]] = {
    "POST /api/intake/cases": FIELD_STAFF,
    **{f"POST /api/intake/cases/{{case_id}}/{command}": FIELD_STAFF for command in INTAKE_COMMANDS},
    # A supervisor acknowledging an escalation directs the officer with a note (sealed; read back only
    # by those who may read the identity).
    "POST /api/intake/cases/{case_id}/notes": READERS,
    "POST /api/intake/cases/{case_id}/erase-identity": frozenset({Role.KENDRA_INCHARGE, Role.SHO}),
    "GET /api/intake/cases/{case_id}/identity": IDENTITY_READERS,
    "GET /api/intake/cases/{case_id}/attachments": READERS,
    "GET /api/intake/cases/{case_id}/attachments/{attachment_id}": IDENTITY_READERS,
    "GET /api/intake/cases": READERS,
    "GET /api/intake/cases/by-number/{case_number}": READERS,
    "POST /api/intake/cases/by-phone": READERS,
    "GET /api/intake/cases/{case_id}": READERS,
    "GET /api/intake/cases/{case_id}/timeline": READERS,
    "GET /api/intake/cases/{case_id}/as-of": READERS,
    "GET /api/intake/cases/{case_id}/receipt": READERS,
    "GET /api/routing/kendras/{kendra}/queue": READERS | {Role.OPERATOR},
    "GET /api/routing/attention": READERS | {Role.OPERATOR},
    "GET /api/routing/cases/{case_id}": READERS | {Role.OPERATOR},
    "GET /api/routing/referrals/outstanding": READERS | {Role.OPERATOR},
    "POST /api/routing/cases/{case_id}/reassign": LADDER,
    "POST /api/routing/cases/{case_id}/transfer": LADDER,
    # The police record an agency's answer; an agency desk gives her own agency's (only to its referrals).
    "POST /api/routing/cases/{case_id}/referrals/{referral_id}/{answer}": READERS | {Role.AGENCY_DESK},
    # An agency desk's own agency's referrals: the least of each case needed to act, no identity.
    "GET /api/routing/agency/referrals": frozenset({Role.AGENCY_DESK}),
    # Cases given to uncertified officers: the in-charge and supervisors (the state cell reads the figures).
    "GET /api/routing/compliance/uncertified/cases": LADDER,
    "GET /api/escalation/escalated-to-me": LADDER,
    "POST /api/escalation/cases/{case_id}/acknowledge": LADDER,
    "GET /api/escalation/close-to-breach": READERS,
    "GET /api/escalation/cases/{case_id}": READERS,
    "GET /api/notifications/mine": READERS | {Role.AGENCY_DESK},
    "GET /api/notifications/outbox": READERS | {Role.OPERATOR},
    "GET /api/notifications/parked": frozenset({Role.OPERATOR}),
}


def principal(role: Role, where: dict[str, str], service_number: str | None = None) -> Principal:
    # One user per role, place and service number: the directory holds one record per user name.
    place = "-".join(where.get(k, "x") for k in ("district", "circle", "thana", "agency"))
    name = f"{role.value}.{place}.{service_number or 'none'}".lower().replace("_", "-")
    return Principal(username=name[:63], role=role, service_number=service_number, **where)


def admitted(route: Endpoint) -> frozenset[Role] | None:
    """The roles a route's ``require`` guard admits (None: the route has no guard)."""
    found: set[Role] = set()
    guarded = False
    for dependency in route.dependant.dependencies:
        closure = inspect.getclosurevars(dependency.call).nonlocals if dependency.call else {}
        if "allowed" in closure:
            guarded = True
            found |= set(closure["allowed"])
    return frozenset(found) if guarded else None


@dataclass
class World:
    app: FastAPI
    client: httpx.AsyncClient
    case_id: str
    case_number: str
    officer: str
    attachment_id: str
    referral_id: str

    async def token(self, who: Principal) -> dict[str, str]:
        return bearer(await self.session(who))

    async def session(self, who: Principal) -> str:
        """A token of ``who``, as the user directory knows them (written there on first use)."""
        return await enrol(self.app, who)

    def path(self, route: Endpoint) -> str:
        values = {
            "case_id": self.case_id, "case_number": self.case_number, "district": "SJP", "thana": "SJP-KATRA",
            "kendra": "MSK-SJP-KATRA", "service_number": self.officer, "service": "intake", "answer": "accept",
            "attachment_id": self.attachment_id, "referral_id": self.referral_id,
        }  # fmt: skip
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m.group(1), "nosuchthing0"), route.path)


@pytest.fixture
async def world(nats_client: NatsClient, nats_url: str, tmp_path: Path) -> AsyncIterator[World]:
    settings = PlatformSettings(data_dir=tmp_path, keys_dir=keys_for_tests())
    users = UserStore(f"sqlite+aiosqlite:///{tmp_path / 'web.db'}")
    app = build_platform(settings, runners(settings, nats_url), users=users)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://platform", timeout=30.0) as client:
            loader = DemoLoader(app, client)
            registrar, _ = await loader.roster(await loader.jurisdiction())
            officer = registrar["SJP-KATRA"]
            staff = bearer(await enrol(app, principal(Role.KENDRA_OFFICER, HOME, officer)))
            body = {
                "channel": "walk_in", "category": "stalking", "description": "DEMO statement", "district": "SJP",
                "thana": "SJP-KATRA", "minor": False, "danger_now": False, "identity": {"name": NAME, "phone": PHONE},
            }  # fmt: skip
            registered = await client.post(
                "/api/intake/cases", json=body, headers={**staff, "Idempotency-Key": "m1"}
            )
            assert registered.status_code == 201, registered.text
            case = registered.json()

            async def assigned() -> bool:
                seen = await client.get(f"/api/intake/cases/{case['case_id']}", headers=staff)
                return seen.status_code == 200 and seen.json()["assigned_officer"] is not None

            await eventually(assigned, timeout=30, what="the case is routed and assigned")
            # A file naming her: it opens only for those who may read the identity.
            attached = await client.post(
                f"/api/intake/cases/{case['case_id']}/attachments",
                data={"kind": "medical_report"}, files={"file": ("report.pdf", SCAN, "application/pdf")},
                headers={**staff, "Idempotency-Key": "m2"},
            )  # fmt: skip
            assert attached.status_code == 200, attached.text
            listed = await client.get(f"/api/intake/cases/{case['case_id']}/attachments", headers=staff)
            attachment = listed.json()["attachments"][0]["attachment_id"]
            # A referral to the One Stop Centre: its desk reaches the case through it, and through
            # nothing else.
            referred = await client.post(
                f"/api/intake/cases/{case['case_id']}/referrals", json={"agency_kind": "one_stop_centre"},
                headers={**staff, "Idempotency-Key": "m3"},
            )  # fmt: skip
            assert referred.status_code == 200, referred.text
            referral_id = ""

            async def issued() -> bool:
                nonlocal referral_id
                seen = await client.get(f"/api/routing/cases/{case['case_id']}", headers=staff)
                found = seen.json()["referrals"] if seen.status_code == 200 else []
                referral_id = found[0]["referral_id"] if found else ""
                return bool(referral_id)

            await eventually(issued, timeout=30, what="routing issues the referral")
            yield World(app, client, case["case_id"], case["case_number"], officer, attachment, referral_id)


@dataclass(frozen=True)
class Endpoint:
    """An API route with its full path (FastAPI keeps included routers' routes with their own paths)."""

    path: str
    route: APIRoute

    @property
    def dependant(self) -> Any:
        return self.route.dependant


def flatten(routes: list[Any], prefix: str = "") -> list[Endpoint]:
    found: list[Endpoint] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(Endpoint(prefix + route.path, route))
        elif hasattr(route, "original_router"):  # an included router
            found += flatten(route.original_router.routes, prefix + route.include_context.prefix)
    return found


def api_routes(app: FastAPI) -> list[tuple[Endpoint, str]]:
    return [
        (endpoint, method)
        for endpoint in flatten(app.routes)
        if endpoint.path.startswith("/api/")
        for method in sorted(endpoint.route.methods or ())
    ]


async def call(world: World, route: Endpoint, method: str, headers: dict[str, str]) -> httpx.Response:
    last = route.path.rstrip("/").split("/")[-1]
    headers = {**headers, "Idempotency-Key": "matrix"}
    if method == "POST" and last == "attachments":  # a file, sent as a form
        files = {"file": ("scan.pdf", b"%PDF-1.4 DEMO", "application/pdf")}
        return await world.client.post(
            world.path(route), data={"kind": "other"}, files=files, headers=headers
        )
    body = BODIES.get(last, {}) if method == "POST" else None
    reading = last in ("identity", "{attachment_id}")
    return await world.client.request(
        method, world.path(route), json=body, headers=headers,
        params={"purpose": "supervisory_review"} if reading else None,
    )  # fmt: skip


async def test_every_api_route_is_guarded_and_refuses_strangers(world: World) -> None:
    routes = api_routes(world.app)
    assert len(routes) > 40  # the four services' routes and the platform's are all there
    unguarded = [r.path for r, _ in routes if admitted(r) is None and r.path not in PUBLIC]
    assert unguarded == []
    for route, method in routes:
        if route.path in PUBLIC:
            continue
        response = await call(world, route, method, {})
        assert response.status_code == 401, (method, route.path, response.status_code)
        forged = await call(world, route, method, {"Authorization": "Bearer forged.token.value"})
        assert forged.status_code == 401, (method, route.path)


async def test_roles_outside_a_route_are_refused(world: World) -> None:
    refused = 0
    for route, method in api_routes(world.app):
        allowed = admitted(route)
        if allowed is None:
            continue
        for role in set(Role) - allowed:
            response = await call(
                world, route, method, await world.token(principal(role, HOME, world.officer))
            )
            assert response.status_code == 403, (role.value, method, route.path, response.status_code)
            refused += 1
    assert refused > 50


@pytest.mark.parametrize("away", [AWAY_THANA, AWAY_DISTRICT], ids=["other-thana", "other-district"])
async def test_nobody_outside_the_jurisdiction_sees_or_touches_the_case(
    world: World, away: dict[str, str]
) -> None:
    before = (await world.client.get(
        f"/api/intake/cases/{world.case_id}", headers=await world.token(principal(Role.SHO, HOME))
    )).json()  # fmt: skip
    checked = 0
    answered: list[tuple[str, str, int, str]] = []
    for route, method in api_routes(world.app):
        allowed = admitted(route) or frozenset()
        for role in allowed - {Role.STATE_CELL, Role.OPERATOR}:
            level = {"kendra_officer": 3, "kendra_incharge": 3, "sho": 3, "co": 2}.get(role.value, 1)
            where = dict(list(away.items())[:level])
            if level < 3 and away is AWAY_THANA and role.value != "co":
                continue  # a district officer of the same district is inside: not a stranger
            if role.value == "co" and away is AWAY_THANA:
                where = {"district": "SJP", "circle": "SJP-NAGAR"}
            if role is Role.AGENCY_DESK:
                # Outside, for her, is another agency: the case's referral is not hers to see or answer.
                where = {"district": away["district"], "agency": OTHER_AGENCY}
            response = await call(world, route, method, await world.token(principal(role, where, "PNO999")))
            text = response.text
            assert response.status_code < 500, (role.value, method, route.path, text[:300])
            # A refusal may name what was asked for (the id in the path), nothing more.
            if "{case_number}" not in route.path:
                assert world.case_number not in text, (role.value, method, route.path)
            if response.status_code < 400:
                assert world.case_id not in text, (role.value, method, route.path)
            assert NAME not in text and PHONE not in text
            if method == "POST" and "{case_id}" in route.path and response.status_code != 404:
                # The role may act on cases, this case lies outside her jurisdiction: for her it does
                # not exist, in every service alike (a 403 or 409 would tell that it does).
                answered.append((role.value, route.path, response.status_code, text[:120]))
            checked += 1
    assert checked > 40
    assert answered == [], "\n".join(map(str, answered))
    after = (await world.client.get(
        f"/api/intake/cases/{world.case_id}", headers=await world.token(principal(Role.SHO, HOME))
    )).json()  # fmt: skip
    assert after["status"] == before["status"] and after["identity_erased"] is False


async def test_identity_appears_only_in_its_own_answer_to_the_roles_that_may_read_it(world: World) -> None:
    for route, method in api_routes(world.app):
        if method != "GET":
            continue
        for role in admitted(route) or frozenset():
            where = {
                k: v
                for k, v in HOME.items()
                if k in principal(role, {}).scope()
                or role.value in ("kendra_officer", "kendra_incharge", "sho")
            }
            if role.value == "co":
                where = {"district": "SJP", "circle": "SJP-TILHAR"}
            elif role.value in ("addl_sp", "sp"):
                where = {"district": "SJP"}
            elif role.value in ("state_cell", "operator"):
                where = {}
            elif role is Role.AGENCY_DESK:
                where = INSIDE[role]
            response = await call(
                world, route, method, await world.token(principal(role, where, world.officer))
            )
            shows = NAME in response.text or PHONE in response.text
            if route.path.endswith(("/identity", "/{attachment_id}")) and role in IDENTITY_READERS:
                assert shows and response.status_code == 200, (role.value, response.text[:200])
            else:
                assert not shows, (role.value, route.path)


PAGES = {
    "/kendra/queue": {Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO},
    "/kendra/queue.csv": {Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO},
    "/kendra/register": {Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO},
    "/kendra/earlier-cases": {
        Role.KENDRA_OFFICER,
        Role.KENDRA_INCHARGE,
        Role.SHO,
        Role.CO,
        Role.ADDL_SP,
        Role.SP,
    },
    "/dashboard": {Role.KENDRA_INCHARGE, Role.SHO, Role.CO, Role.ADDL_SP, Role.SP},
    "/state": {Role.STATE_CELL},
    "/operations": {Role.OPERATOR},
    "/training": set(Role) - {Role.AGENCY_DESK},
    "/agency": {Role.AGENCY_DESK},
    "/notifications": {
        Role.KENDRA_OFFICER,
        Role.KENDRA_INCHARGE,
        Role.SHO,
        Role.CO,
        Role.ADDL_SP,
        Role.SP,
        Role.AGENCY_DESK,
    },
    "/notifications/preferences": {
        Role.KENDRA_OFFICER,
        Role.KENDRA_INCHARGE,
        Role.SHO,
        Role.CO,
        Role.ADDL_SP,
        Role.SP,
    },
    "/training/compliance": {Role.KENDRA_INCHARGE, Role.SHO, Role.CO, Role.ADDL_SP, Role.SP},
    "/training/compliance/untrained.csv": {Role.KENDRA_INCHARGE, Role.SHO, Role.CO, Role.ADDL_SP, Role.SP},
    "/training/compliance/uncertified-cases": {
        Role.KENDRA_INCHARGE,
        Role.SHO,
        Role.CO,
        Role.ADDL_SP,
        Role.SP,
    },
    "/training/compliance/uncertified-cases.csv": {
        Role.KENDRA_INCHARGE,
        Role.SHO,
        Role.CO,
        Role.ADDL_SP,
        Role.SP,
    },
    "/training/programmes": {Role.SHO, Role.CO, Role.ADDL_SP, Role.SP},
    "/training/programmes/new": {Role.CO, Role.ADDL_SP, Role.SP},
}


async def test_pages_open_only_for_their_roles_and_case_pages_only_inside_the_jurisdiction(
    world: World,
) -> None:
    for role, where in INSIDE.items():
        cookies = {"shakti_session": await world.session(principal(role, where, world.officer))}
        for page, roles in PAGES.items():
            response = await world.client.get(page, cookies=cookies)
            assert (response.status_code == 200) == (role in roles), (role.value, page, response.status_code)
            assert NAME not in response.text and PHONE not in response.text
        case_page = await world.client.get(f"/cases/{world.case_id}", cookies=cookies)
        readers = {Role.KENDRA_OFFICER, Role.KENDRA_INCHARGE, Role.SHO, Role.CO, Role.ADDL_SP, Role.SP}
        assert (case_page.status_code == 200) == (role in readers), (role.value, case_page.status_code)
        assert NAME not in case_page.text
    for where in (AWAY_THANA, AWAY_DISTRICT):
        cookies = {"shakti_session": await world.session(principal(Role.SHO, where))}
        case_page = await world.client.get(f"/cases/{world.case_id}", cookies=cookies)
        assert case_page.status_code == 404 and world.case_number not in case_page.text
        token = csrf_token(cookies["shakti_session"])  # as the case page's form would carry it
        shown = await world.client.post(
            f"/cases/{world.case_id}/identity",
            data={"purpose": "supervisory_review", "csrf_token": token},
            cookies=cookies,
        )
        assert NAME not in shown.text and shown.status_code in (403, 404)
        assert CSRF_REFUSED["en"] not in shown.text  # refused by the jurisdiction, not at the door


async def test_case_level_data_reaches_only_the_roles_the_table_names(world: World) -> None:
    """The table CASE_LEVEL says which roles reach case-level data; every route of the platform is held
    to it: its guard admits exactly those roles, a route naming a case must be in it, and every other
    answer (figures, reference data) shows the case to no one. The state cell is in none of it."""
    routes = {f"{method} {endpoint.path}": endpoint for endpoint, method in api_routes(world.app)}
    assert set(CASE_LEVEL) <= set(routes), set(CASE_LEVEL) - set(routes)
    for key, endpoint in routes.items():
        if "{case_id}" in key or "{case_number}" in key:
            assert key in CASE_LEVEL, f"{key} names a case: say in CASE_LEVEL who reaches it"
        if key in CASE_LEVEL:
            assert admitted(endpoint) == CASE_LEVEL[key], (key, admitted(endpoint))
    assert not [key for key, roles in CASE_LEVEL.items() if Role.STATE_CELL in roles]
    checked = 0
    for key, endpoint in routes.items():
        method = key.split()[0]
        if key in CASE_LEVEL or method != "GET":
            continue
        for role in admitted(endpoint) or frozenset(Role):
            who = principal(role, INSIDE[role], world.officer)
            response = await call(world, endpoint, method, await world.token(who))
            assert world.case_id not in response.text, (role.value, key)
            assert world.case_number not in response.text, (role.value, key)
            checked += 1
    assert checked > 50
    state_cell = await world.token(principal(Role.STATE_CELL, {}))
    for key in CASE_LEVEL:
        method = key.split()[0]
        response = await call(world, routes[key], method, state_cell)
        assert response.status_code == 403, (key, response.status_code)
        assert world.case_number not in response.text
