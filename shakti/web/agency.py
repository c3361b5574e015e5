"""The agency desk: the referrals the Kendras sent to her agency, and her answers to them (accept,
reject with a reason, complete). She sees the least of each case needed to act on it (its number,
category, priority, thana and times) and nothing else of the platform: no identity, no register, no
other agency's referral. Her answers go to routing as the case page's do, and stop the referral's
clock just the same."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from shakti.web.cases import REFERRAL_ANSWERS, REFERRAL_ID, posted, unconfirmed
from shakti.web.pages import Api, PageRefused, ServiceAPI, User, allow, check_case_id, render
from shared.auth import AGENCY_STAFF, Principal

HOME = "/agency"
DONE = frozenset({"accept", "reject", "complete"})


def mount_agency(app: FastAPI) -> None:
    router = APIRouter(include_in_schema=False)

    @router.get(HOME)
    async def desk(request: Request, principal: User, api: Api, done: str | None = None) -> HTMLResponse:
        allow(principal, AGENCY_STAFF)
        return await desk_page(request, principal, api, done=done if done in DONE else None)

    @router.post("/agency/referrals/{case_id}/{referral_id}/{answer}")
    async def answer(
        request: Request, case_id: str, referral_id: str, answer: str, principal: User, api: Api
    ) -> Response:
        """Her agency's answer to one of its referrals, given by herself."""
        allow(principal, AGENCY_STAFF)
        check_case_id(case_id)
        if answer not in REFERRAL_ANSWERS or not REFERRAL_ID.match(referral_id):
            raise PageRefused(404, "No such step.", "ऐसा कोई चरण नहीं।")
        form, key = await posted(request)
        form["referral_id"] = referral_id  # which referral's form to show again if refused
        if refused := unconfirmed(answer, form):
            return await desk_page(request, principal, api, 422, error=refused, form=form, opened=answer)
        response = await api.call(
            "POST",
            f"/api/routing/cases/{case_id}/referrals/{referral_id}/{answer}",
            json={"reason": form["reason"]} if answer == "reject" and "reason" in form else None,
            headers={"Idempotency-Key": key},
        )
        if response.status_code >= 400:
            refusal = ServiceAPI.refusal(response)
            return await desk_page(
                request, principal, api, refusal.status, error=refusal, form=form, opened=answer
            )
        return RedirectResponse(f"{HOME}?done={answer}#referral-{referral_id}", status_code=303)

    app.include_router(router)


async def desk_page(
    request: Request,
    principal: Principal,
    api: ServiceAPI,
    status: int = 200,
    *,
    done: str | None = None,
    error: PageRefused | None = None,
    form: dict[str, str] | None = None,
    opened: str | None = None,
) -> HTMLResponse:
    found = await api.get("/api/routing/agency/referrals")
    reasons = await api.get("/api/routing/reasons")
    referrals: list[dict[str, Any]] = found["referrals"]
    return render(
        request,
        "agency.html",
        principal,
        status,
        agency=found["agency"],
        open_referrals=[r for r in referrals if r["status"] in REFERRAL_ANSWERS["complete"]],
        answered_referrals=[r for r in referrals if r["status"] not in REFERRAL_ANSWERS["complete"]],
        answers=REFERRAL_ANSWERS,
        reject_reasons=reasons["reject"],
        done=done,
        error=error,
        form=form or {},
        opened=opened,
    )
