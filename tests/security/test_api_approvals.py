"""Approvals attacked through the API and the console: only the company's authorised contact decides a
permission change or a device order (with evidence), only a manager a spare part; refused attempts
change nothing."""

from __future__ import annotations

import pytest
import requests
from web_helpers import csrf_token, http, log_in, site, snapshot  # noqa: F401 (fixtures)

from callcenter import tickets as svc
from callcenter.models import Approval, Contact


@pytest.fixture
def pending(session, demo, now):  # noqa: ANN001, ANN201
    """A permission change waiting for Anna, a device order any authorised contact may decide, a spare part."""
    colleague = Contact(company_id=demo.budapest.id, name="Kiss Béla", email="bela@budapest-demo.example",
                        can_authorize=True, password_hash=demo.anna.password_hash)
    clerk = Contact(company_id=demo.budapest.id, name="Varga Éva", email="eva@budapest-demo.example",
                    can_authorize=False, password_hash=demo.anna.password_hash)
    session.add_all([colleague, clerk])
    perm = svc.create_ticket(session, svc.NewTicket(subject="Give Bob admin rights", channel="email",
                                                    category="permission_change", reporter_contact_id=demo.anna.id),
                             now=now)
    order = svc.create_ticket(session, svc.NewTicket(subject="Two headsets", channel="email",
                                                     category="device_order", reporter_contact_id=demo.anna.id),
                              now=now)
    order.approvals[0].approver_contact_id = None
    fault = svc.create_ticket(session, svc.NewTicket(subject="PSU failed", channel="phone", category="infrastructure",
                                                     reporter_contact_id=demo.nikos.id), now=now)
    spare = svc.request_approval(session, fault, kind="spare_part", summary="PSU 48V", actor=svc.SYSTEM, now=now,
                                 approver_staff_id=demo.staff["manager"].id)
    session.commit()
    return {"perm": perm.approvals[0].id, "order": order.approvals[0].id, "spare": spare.id,
            "perm_ticket": perm.number, "anna": demo.anna.id, "nikos": demo.nikos.id, "bela": colleague.id,
            "eva": clerk.id}


def _decide(base: str, approval_id: int, token: dict | None, **body) -> requests.Response:  # noqa: ANN003
    body = {"approved": True, "evidence": "they said yes", **body}
    return requests.post(f"{base}/api/v1/approvals/{approval_id}/decision", json=body, headers=token or {})


REFUSED = [
    # (who, which approval, body, status)
    ("agent1", "perm", {}, 403),                                   # the reported bug: nobody named
    ("agent1", "perm", {"decided_by_contact_id": "nikos"}, 403),   # another company's contact
    ("agent1", "perm", {"decided_by_contact_id": "eva"}, 403),     # not authorised to approve
    ("agent1", "perm", {"decided_by_contact_id": "bela"}, 403),    # authorised, but the request is Anna's
    ("agent1", "order", {"decided_by_contact_id": "eva"}, 403),
    ("agent1", "perm", {"decided_by_contact_id": "anna", "evidence": "   "}, 422),
    ("agent1", "spare", {}, 403),                                  # spare parts: managers only
    ("eng2", "spare", {}, 403),
    ("manager", "spare", {"decided_by_contact_id": "anna"}, 403),  # a contact cannot decide a spare part
    ("qa", "perm", {"decided_by_contact_id": "anna"}, 403),        # QA reads
    (None, "perm", {"decided_by_contact_id": "anna"}, 401),
    ("agent1", "perm", {"decided_by_contact_id": 999_999}, 422),
]


@pytest.mark.parametrize("who,which,body,status", REFUSED)
def test_api_approval_attempts_are_refused(site, session, api_token, pending, who, which, body,  # noqa: ANN001, F811
                                           status) -> None:
    body = {k: pending.get(v, v) if k == "decided_by_contact_id" else v for k, v in body.items()}
    token = api_token(who) if who else None
    before = snapshot(session)
    r = _decide(site, pending[which], token, **body)
    assert r.status_code == status, r.text
    assert snapshot(session) == before


def test_authorised_decisions_through_the_api(site, session, api_token, pending) -> None:  # noqa: ANN001, F811
    r = _decide(site, pending["spare"], api_token("manager"), evidence="stock checked, approved")
    assert r.status_code == 200 and r.json()["status"] == "approved" and r.json()["decided_by"] == "Nagy Katalin"
    r = _decide(site, pending["perm"], api_token("agent1"), decided_by_contact_id=pending["anna"],
                evidence="signed form 2026/114 in the customer file")
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["decided_by"] == "Kovács Anna" and data["channel"] == "api"
    assert data["evidence"].startswith("Entered by Szabó Péter from the customer's written decision")
    token = api_token("manager")
    before = snapshot(session)
    again = _decide(site, pending["perm"], token, decided_by_contact_id=pending["anna"], approved=False)
    assert again.status_code == 409 and snapshot(session) == before


def test_console_approval_attempts_are_refused(site, session, pending) -> None:  # noqa: ANN001, F811
    path = f"/console/tickets/{pending['perm_ticket']}"
    for who, form in [("eva@budapest-demo.example", {}),            # a colleague without the authority
                      ("bela@budapest-demo.example", {}),           # authorised, but not the one asked
                      ("qa", {"decided_by_contact_id": pending["anna"]}),
                      ("agent1", {"decided_by_contact_id": pending["nikos"]})]:
        with requests.Session() as http:  # noqa: F811
            assert log_in(http, site, who).status_code == 302, who
            token = csrf_token(http, site, path)
            before = snapshot(session)
            r = http.post(f"{site}{path}/approvals/{pending['perm']}", allow_redirects=False,
                          data={"decision": "approve", "evidence": "yes", "csrf_token": token, **form})
            assert r.status_code in (302, 403), who
        assert snapshot(session) == before, who
    with requests.Session() as http:  # noqa: F811
        assert log_in(http, site, "anna@budapest-demo.example").status_code == 302
        token = csrf_token(http, site, path)
        http.post(f"{site}{path}/approvals/{pending['perm']}", allow_redirects=False,
                  data={"decision": "approve", "evidence": "Approved, Anna", "csrf_token": token})
    session.expire_all()
    approval = session.get(Approval, pending["perm"])
    assert approval.status == "approved" and approval.decided_by_name == "Kovács Anna"
