"""Calls in the console through Flask's test client: the log and its filters, who may see and hear a
recording, Range playback and its audit, QA reviews, legal hold, fault calls per machine, hotline report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from call_data import make_call, store_recording
from test_console import csrf, login

from callcenter import tickets as tsvc
from callcenter.models import CallOutcome, CallReview, RecordingAudit


@pytest.fixture
def pinned(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    return app


@pytest.fixture
def calls(session, demo, settings, now, pinned):  # noqa: ANN001, ANN201
    store = settings.recordings_path
    ticket = tsvc.create_ticket(session, tsvc.NewTicket(subject="PBX trunk down", channel="phone",
                                                        category="infrastructure", reporter_contact_id=demo.nikos.id,
                                                        asset_id=demo.pbx.id), now=now - timedelta(hours=2))
    nikos = make_call(session, now - timedelta(hours=2), company=demo.athens, contact=demo.nikos, asset=demo.pbx,
                      wait=60, answered=True, outcome=CallOutcome.ANSWERED, menu="1", ticket_id=ticket.id)
    anna = make_call(session, now - timedelta(hours=1), company=demo.budapest, contact=demo.anna, wait=30,
                     outcome=CallOutcome.ABANDONED_IN_QUEUE, menu="2")
    # A Budapest call from an unknown number (a colleague of Anna's not in the contact list).
    colleague = make_call(session, now - timedelta(minutes=30), company=demo.budapest, wait=10, answered=True,
                          outcome=CallOutcome.ANSWERED)
    recs = {name: store_recording(session, store, c, seconds=2)
            for name, c in (("nikos", nikos), ("anna", anna), ("colleague", colleague))}
    session.commit()
    return {"nikos": nikos.id, "anna": anna.id, "colleague": colleague.id, "ticket": ticket.number,
            **{f"rec_{k}": v.id for k, v in recs.items()}}


def audits(session, recording_id: int) -> list[str]:  # noqa: ANN001
    session.expire_all()
    return [a.action for a in session.query(RecordingAudit).filter_by(recording_id=recording_id)
            .order_by(RecordingAudit.id)]


def test_call_log_lists_and_filters(client, calls) -> None:  # noqa: ANN001
    login(client, "agent1")
    page = client.get("/console/calls").get_data(as_text=True)
    assert all(f'data-call="{calls[k]}"' in page for k in ("nikos", "anna", "colleague"))
    assert f"#{calls['ticket']}" in page and "ATH-PBX-01" in page
    abandoned = client.get("/console/calls?state=abandoned").get_data(as_text=True)
    assert f'data-call="{calls["anna"]}"' in abandoned and f'data-call="{calls["nikos"]}"' not in abandoned
    by_caller = client.get("/console/calls?caller=Nikos").get_data(as_text=True)
    assert f'data-call="{calls["nikos"]}"' in by_caller and f'data-call="{calls["anna"]}"' not in by_caller


def test_staff_play_with_range_requests_and_every_playback_is_audited(client, calls, session) -> None:  # noqa: ANN001
    login(client, "agent1")
    page = client.get(f"/console/calls/{calls['nikos']}").get_data(as_text=True)
    url = f"/console/recordings/{calls['rec_nikos']}/audio"
    # preload="none": the browser fetches nothing until the user presses play, so opening the page
    # is not a playback (it used to be, with preload="metadata").
    assert f'<audio controls preload="none" class="player" src="{url}"' in page
    assert audits(session, calls["rec_nikos"]) == []
    full = client.get(url)
    assert full.status_code == 200 and full.mimetype == "audio/wav" and full.data[:4] == b"RIFF"
    size = len(full.data)
    part = client.get(url, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.data) == 100
    assert part.headers["Content-Range"] == f"bytes 0-99/{size}"
    seek = client.get(url, headers={"Range": f"bytes=1000-{size - 1}"})
    assert seek.status_code == 206 and seek.data == full.data[1000:]
    assert client.get(url, headers={"Range": f"bytes={size + 10}-"}).status_code == 416
    download = client.get(url + "?download=1")
    assert "attachment" in download.headers["Content-Disposition"]
    # Two playbacks (from the start) and one download; the seek is part of a playback.
    assert audits(session, calls["rec_nikos"]) == ["play", "play", "download"]
    entry = session.query(RecordingAudit).filter_by(recording_id=calls["rec_nikos"]).first()
    assert entry.actor_name == "Szabó Péter" and entry.actor_role == "agent" and entry.remote_addr == "127.0.0.1"


def test_customer_sees_own_company_and_hears_only_own_calls(client, calls, session) -> None:  # noqa: ANN001
    login(client, "anna@budapest-demo.example")
    log = client.get("/console/calls", follow_redirects=True).get_data(as_text=True)
    assert f'data-call="{calls["anna"]}"' in log and f'data-call="{calls["nikos"]}"' not in log
    assert client.get(f"/console/calls/{calls['nikos']}").status_code == 404
    assert client.get(f"/console/recordings/{calls['rec_nikos']}/audio").status_code == 404
    assert client.get(f"/console/recordings/{calls['rec_anna']}/audio").status_code == 200
    # Her company's call made by someone else: visible in the log, not to be heard.
    assert client.get(f"/console/calls/{calls['colleague']}").status_code == 200
    assert client.get(f"/console/recordings/{calls['rec_colleague']}/audio").status_code == 403
    assert audits(session, calls["rec_nikos"]) == [] and audits(session, calls["rec_colleague"]) == []
    assert client.get("/console/faults").status_code == 403
    assert client.get("/console/calls/reviews").status_code == 403


def test_qa_scores_a_call(client, calls, session) -> None:  # noqa: ANN001
    login(client, "qa")
    url = f"/console/calls/{calls['nikos']}"
    token = csrf(client, url)
    scores = {"greeting": "5", "identification": "4", "problem_capture": "3", "solution": "4", "courtesy": "5"}
    r = client.post(f"{url}/reviews", data={**scores, "comment": "Clear and quick.", "csrf_token": token})
    assert r.status_code == 302
    review = session.query(CallReview).one()
    assert review.total == 21 and review.reviewer_name == "Quality Reviewer" and review.comment == "Clear and quick."
    bad = client.post(f"{url}/reviews", data={**scores, "courtesy": "6", "csrf_token": token}, follow_redirects=True)
    assert "courtesy" in bad.get_data(as_text=True)
    assert session.query(CallReview).count() == 1
    assert client.post(f"{url}/reviews", data=scores).status_code == 400  # no CSRF token
    page = client.get("/console/calls/reviews").get_data(as_text=True)
    assert 'id="overall-total">21.00' in page


def test_call_log_and_page_show_who_answered_and_talk_time(client, calls, session, demo) -> None:  # noqa: ANN001
    from callcenter.models import Call

    call = session.get(Call, calls["nikos"])
    call.agent_id, call.talk_seconds = demo.staff["agent2"].id, 125
    session.commit()
    login(client, "qa")
    log = client.get("/console/calls").get_data(as_text=True)
    row = log[log.index(f'data-call="{calls["nikos"]}"'):]
    row = row[:row.index("</tr>")]
    assert "Eleni Georgiou" in row and ">2:05<" in row
    page = client.get(f"/console/calls/{calls['nikos']}").get_data(as_text=True)
    assert '<dd id="call-agent">Eleni Georgiou</dd>' in page and '<dd id="call-talk">2:05</dd>' in page
    # Scores start empty: the reviewer chooses each one, nothing is pre-selected.
    form = page[page.index('id="review-form"'):page.index("</form>", page.index('id="review-form"'))]
    assert "selected" not in form.replace('<option value="" selected>', "")


def test_calls_without_audio_cannot_be_scored(client, calls, session) -> None:  # noqa: ANN001
    from callcenter.models import Recording, RecordingStatus

    rec = session.get(Recording, calls["rec_anna"])
    rec.status, rec.local_path = RecordingStatus.ABSENT, None
    session.commit()
    login(client, "qa")
    url = f"/console/calls/{calls['anna']}"
    page = client.get(url).get_data(as_text=True)
    assert 'id="review-form"' not in page and 'id="review-no-audio"' in page
    scores = {c: "4" for c in ("greeting", "identification", "problem_capture", "solution", "courtesy")}
    r = client.post(f"{url}/reviews", data={**scores, "csrf_token": csrf(client, url)}, follow_redirects=True)
    assert "cannot be scored" in r.get_data(as_text=True) and session.query(CallReview).count() == 0


def test_agents_do_not_score_calls(client, calls, session) -> None:  # noqa: ANN001
    login(client, "agent1")
    url = f"/console/calls/{calls['nikos']}"
    assert 'id="review-form"' not in client.get(url).get_data(as_text=True)
    r = client.post(f"{url}/reviews", data={"greeting": "5", "csrf_token": csrf(client, url)})
    assert r.status_code == 403 and session.query(CallReview).count() == 0


def test_legal_hold_by_a_manager_only(client, calls, session) -> None:  # noqa: ANN001
    from callcenter.models import Call

    url = f"/console/calls/{calls['anna']}"
    login(client, "agent1")
    assert client.post(f"{url}/hold", data={"hold": "on", "reason": "x", "csrf_token": csrf(client, url)}
                       ).status_code == 403
    login(client, "manager")
    client.post(f"{url}/hold", data={"hold": "on", "reason": "", "csrf_token": csrf(client, url)})
    session.expire_all()
    assert session.get(Call, calls["anna"]).legal_hold is False  # a hold needs a reason
    client.post(f"{url}/hold", data={"hold": "on", "reason": "Complaint dispute", "csrf_token": csrf(client, url)})
    session.expire_all()
    call = session.get(Call, calls["anna"])
    assert call.legal_hold is True and "Complaint dispute" in call.legal_hold_reason


def test_fault_calls_per_machine(client, calls) -> None:  # noqa: ANN001, ARG001
    login(client, "eng2")
    listing = client.get("/console/faults").get_data(as_text=True)
    assert "ATH-PBX-01" in listing
    asset_id = int(listing.split("/console/assets/")[1].split("/")[0])
    page = client.get(f"/console/assets/{asset_id}/faults").get_data(as_text=True)
    assert f"/console/calls/{calls['nikos']}" in page and f"#{calls['ticket']}" in page
    assert f"/console/recordings/{calls['rec_nikos']}/audio" in page
    assert f"/console/assets/{asset_id}/faults" in client.get(f"/console/assets/{asset_id}").get_data(as_text=True)


def test_recording_audit_page_for_managers(client, calls) -> None:  # noqa: ANN001
    login(client, "agent1")
    client.get(f"/console/recordings/{calls['rec_nikos']}/audio")
    assert client.get("/console/recordings/audit").status_code == 403
    login(client, "manager")
    page = client.get("/console/recordings/audit").get_data(as_text=True)
    # The manager reads Hungarian (her language), so the action shows translated.
    assert "Szabó Péter" in page and "Lejátszva" in page


def test_hotline_report_page_and_csv(client, calls, demo) -> None:  # noqa: ANN001
    login(client, "manager")
    page = client.get("/console/reports/hotline?quarter=2026Q4")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="kpi-calls">3<' in html and 'id="kpi-abandoned">1<' in html and "<svg" in html
    csv_text = client.get(f"/console/reports/hotline.csv?quarter=2026Q4&company={demo.athens.id}").get_data(
        as_text=True)
    assert "calls,1" in csv_text and "answered_within_threshold,1" in csv_text
    login(client, "anna@budapest-demo.example")
    assert client.get("/console/reports/hotline?quarter=2026Q4").status_code == 403


def test_menu_shows_calls_pages_by_role(client, calls) -> None:  # noqa: ANN001, ARG001
    login(client, "qa")
    html = client.get("/console/calls").get_data(as_text=True)
    assert 'href="/console/calls/reviews"' in html and 'href="/console/faults"' in html
    login(client, "agent1")
    html = client.get("/console/calls").get_data(as_text=True)
    assert 'href="/console/calls/reviews"' not in html and 'href="/console/calls"' in html


def test_ticket_page_lists_its_calls(client, calls) -> None:  # noqa: ANN001
    login(client, "eng2")
    page = client.get(f"/console/tickets/{calls['ticket']}").get_data(as_text=True)
    assert 'id="ticket-calls"' in page and f"/console/calls/{calls['nikos']}" in page


def test_review_averages_per_agent(session, demo, now, tmp_path) -> None:  # noqa: ANN001
    from callcenter.call_review import review_averages_per_agent, submit_review

    agent1, agent2, qa = demo.staff["agent1"], demo.staff["agent2"], demo.staff["qa"]
    scores = [(agent1, 5), (agent1, 3), (agent2, 2), (None, 4)]  # the last call nobody answered
    for who, score in scores:
        call = make_call(session, now, company=demo.budapest, contact=demo.anna, wait=30, answered=who is not None)
        call.agent_id = who.id if who else None
        store_recording(session, tmp_path, call)
        session.refresh(call)
        submit_review(session, call, qa, {c: score for c in ("greeting", "identification", "problem_capture",
                                                            "solution", "courtesy")}, "", now=now)
    session.commit()
    rows = {a.label: (a.reviews, a.criteria["greeting"], a.total) for a in review_averages_per_agent(session)}
    assert rows == {agent1.name: (2, 4.0, 20.0), agent2.name: (1, 2.0, 10.0)}
    assert review_averages_per_agent(session, company_id=demo.athens.id) == []
