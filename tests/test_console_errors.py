"""Error pages in the console's look (menu, the user's language, a way back) and the Reports form,
which answers with a report or the form again, never a bare 400."""

from __future__ import annotations

from test_console import csrf, login


def set_language(client, lang: str) -> None:  # noqa: ANN001
    token = csrf(client, "/console/queue")
    client.post("/language", data={"lang": lang, "next": "/console/queue", "csrf_token": token})


def test_not_found_is_themed_with_menu_and_a_way_back(client, demo) -> None:  # noqa: ANN001
    login(client, "agent1")
    r = client.get("/console/tickets/999999", headers={"Referer": "http://localhost/console/queue"})
    page = r.get_data(as_text=True)
    assert r.status_code == 404 and r.mimetype == "text/html"
    assert 'id="error-page" data-code="404"' in page and 'href="/console/queue"' in page and 'id="logout"' in page
    assert 'href="/console/queue" id="error-back"' in page
    # A referrer on another host is never offered as the way back.
    other = client.get("/console/tickets/999999", headers={"Referer": "http://evil.example/x"}).get_data(as_text=True)
    assert "evil.example" not in other and 'id="error-home"' in other


def test_error_pages_speak_the_users_language(client, demo) -> None:  # noqa: ANN001
    login(client, "agent1")
    set_language(client, "hu")
    forbidden = client.get("/wallboard")
    assert forbidden.status_code == 403 and '<html lang="hu">' in forbidden.get_data(as_text=True)
    assert 'data-code="403"' in forbidden.get_data(as_text=True)
    bad = client.get("/console/calls?since=yesterday")
    assert bad.status_code == 400 and 'data-code="400"' in bad.get_data(as_text=True)
    assert "YYYY-MM-DD" in bad.get_data(as_text=True)  # what was wrong is still said


def test_api_errors_stay_json(client, demo) -> None:  # noqa: ANN001
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.is_json


def test_reports_form_never_answers_a_bare_400(client, demo) -> None:  # noqa: ANN001
    login(client, "manager")
    # The quarterly report needs a company; "All companies" sends the form back with what to fix.
    r = client.get("/console/reports/go?kind=quarterly&company=&quarter=2026Q3")
    assert r.status_code == 302 and "/console/reports/?" in r.headers["Location"]
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    # The manager reads Hungarian: the reason is said in her language.
    assert "válasszon céget" in page and 'class="flash error"' in page
    assert '<option selected>2026Q3</option>' in page or 'selected>2026Q3' in page
    for query in ("kind=nonsense", "kind=helpdesk&quarter=2026Q9", "kind=hotline&company=abc"):
        r = client.get(f"/console/reports/go?{query}")
        assert r.status_code == 302 and "/console/reports/?" in r.headers["Location"], query
    ok = client.get(f"/console/reports/go?kind=quarterly&company={demo.athens.id}&quarter=2026Q3")
    assert ok.status_code == 302 and "/console/reports/quarterly" in ok.headers["Location"]
    # Typed by hand, a broken URL gets the themed page, not Werkzeug's.
    direct = client.get("/console/reports/quarterly?quarter=2026Q3")
    assert direct.status_code == 400 and 'data-code="400"' in direct.get_data(as_text=True)


def test_an_unexpected_failure_gets_the_themed_500(app, client, demo) -> None:  # noqa: ANN001
    @app.get("/console/boom-for-test")
    def boom():  # noqa: ANN202
        raise RuntimeError("something broke")

    app.config["TESTING"] = False  # let Flask turn the exception into a 500 as in production
    app.config["PROPAGATE_EXCEPTIONS"] = False
    login(client, "agent1")
    r = client.get("/console/boom-for-test")
    page = r.get_data(as_text=True)
    assert r.status_code == 500 and 'data-code="500"' in page and 'id="logout"' in page
    assert "something broke" not in page  # the exception's text stays in the log


def test_unicode_digits_are_not_numbers(client, demo, session) -> None:  # noqa: ANN001
    """"²" passes str.isdigit() but not int(): the bulk acknowledge and the reports form refuse it calmly."""
    from test_console import csrf

    login(client, "eng3")
    token = csrf(client, "/console/oncall")
    r = client.post("/console/alerts/acknowledge", data={"alert_id": "²", "csrf_token": token})
    assert r.status_code == 302
    login(client, "manager")
    r = client.get("/console/reports/go?kind=hotline&company=%C2%B2")
    assert r.status_code == 302 and "/console/reports/?" in r.headers["Location"]
