"""/metrics: Prometheus text format, who may scrape, figures read from the database, figures each process
records (webhooks, AGI commands, outbox sends), and several processes adding up through the metrics directory."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import timedelta
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from callcenter import metrics, outbox
from callcenter.models import Call, InboundMail, Ticket, Timer
from callcenter.providers import PermanentError, SendResult


def scrape(client, **kwargs) -> dict[tuple[str, tuple], float]:  # noqa: ANN001
    resp = client.get("/metrics", **kwargs)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


@pytest.fixture
def clocked(app, now):  # noqa: ANN001, ANN201
    app.config["CLOCK"] = lambda: now
    return app


def test_loopback_may_scrape_others_may_not(clocked, client):
    assert client.get("/metrics").status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    # A reverse proxy on this machine connects from loopback, but says whom it forwards.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403


def test_a_token_is_required_once_set(clocked, client, settings):
    settings.metrics_token = "s3cret"
    assert client.get("/metrics").status_code == 403
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
    ok = client.get("/metrics", headers={"Authorization": "Bearer s3cret"},
                    environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert ok.status_code == 200


def test_database_figures(clocked, client, session, demo, now):
    company, contract = demo.budapest, demo.budapest.contracts[0]
    contract.no_answer_threshold_seconds = 600

    def call(sid: str, **fields) -> Call:  # noqa: ANN003
        row = Call(channel="twilio", provider_call_id=sid, company_id=company.id, contract_id=contract.id,
                   arrived_at=now - timedelta(minutes=20), **fields)
        session.add(row)
        return row

    call("CA-menu")                                                            # in progress, in the menu
    call("CA-wait", queue_entered_at=now - timedelta(minutes=3))               # waiting now
    call("CA-fast", queue_entered_at=now - timedelta(minutes=15), queue_left_at=now - timedelta(minutes=14),
         answered_at=now - timedelta(minutes=14), wait_seconds=45, ended_at=now - timedelta(minutes=5))
    call("CA-slow", queue_entered_at=now - timedelta(minutes=18), queue_left_at=now - timedelta(minutes=5),
         answered_at=now - timedelta(minutes=5), wait_seconds=780, ended_at=now)
    call("CA-gone", queue_entered_at=now - timedelta(minutes=18), queue_left_at=now - timedelta(minutes=17),
         wait_seconds=50, ended_at=now - timedelta(minutes=17))                # abandoned: a wait, not an answer
    session.add(Call(channel="asterisk", provider_call_id="ghost", arrived_at=now - timedelta(days=2)))
    outbox.enqueue(session, key="late", channel="sms", destination="+3615550101", payload={"body": "x"},
                   now=now - timedelta(seconds=90))
    outbox.enqueue(session, key="later", channel="email", destination="a@b.example", payload={},
                   now=now, not_before=now + timedelta(hours=1))
    session.add(Timer(key="t-due", kind="x", due_at=now - timedelta(seconds=42), created_at=now))
    session.add(Timer(key="t-future", kind="x", due_at=now + timedelta(seconds=42), created_at=now))
    session.add(Timer(key="t-old-fired", kind="x", due_at=now - timedelta(hours=1), fired_at=now, created_at=now))
    session.add(Ticket(number=99001, subject="late", channel="phone", category="system", priority="normal",
                       status="new", level="L1", company_id=company.id, created_at=now - timedelta(days=1),
                       updated_at=now, response_due_at=now - timedelta(hours=1)))
    session.add(InboundMail(mailbox="helpdesk@hotline.example", message_id="<q@x>", message_id_hash="q" * 64,
                            content_hash="c" * 64,
                            source="pipe", received_at=now, status="quarantined", reason="broken MIME", raw=b"x",
                            size=1))
    session.commit()

    m = scrape(client)
    assert m[("hotline_database_up", ())] == 1
    assert m[("hotline_calls_in_progress", (("channel", "twilio"),))] == 2  # the ghost is too old to count
    assert m[("hotline_calls_waiting", ())] == 1
    assert m[("hotline_queue_wait_seconds_count", ())] == 3
    assert m[("hotline_queue_wait_seconds_sum", ())] == 45 + 780 + 50
    assert m[("hotline_queue_wait_seconds_bucket", (("le", "60.0"),))] == 2
    assert m[("hotline_queue_wait_seconds_bucket", (("le", "+Inf"),))] == 3
    assert m[("hotline_calls_answered_total", (("within_threshold", "true"),))] == 1
    assert m[("hotline_calls_answered_total", (("within_threshold", "false"),))] == 1
    assert m[("hotline_outbox_backlog", (("channel", "sms"),))] == 1
    assert ("hotline_outbox_backlog", (("channel", "email"),)) not in m  # not due yet
    assert m[("hotline_outbox_oldest_due_seconds", ())] == 90
    assert m[("hotline_timer_lag_seconds", ())] == 42
    assert m[("hotline_sla_breached_tickets", ())] == 1
    assert m[("hotline_mails_total", (("status", "quarantined"),))] == 1


def test_database_down_is_a_figure_not_an_error(clocked, client, engine, monkeypatch):
    from callcenter import metrics_db

    def broken(session, now):  # noqa: ANN001, ANN202
        raise RuntimeError("database gone")

    monkeypatch.setattr(metrics_db, "read_figures", broken)
    monkeypatch.setattr(metrics_db, "CACHE_SECONDS", 0)
    assert scrape(client)[("hotline_database_up", ())] == 0


def test_webhook_latency_is_recorded_per_endpoint(clocked, client):
    key = ("hotline_webhook_seconds_count", (("endpoint", "twilio_voice.incoming"),))
    before = scrape(client).get(key, 0)
    assert client.post("/twilio/voice", data={"CallSid": "CA1"}).status_code == 403  # unsigned, still timed
    assert scrape(client)[key] == before + 1


def test_outbox_sends_and_final_failures_are_counted(clocked, client, session_factory, now):
    class Provider:
        name = "scripted"

        def send(self, message):  # noqa: ANN001, ANN201
            if message.destination == "+3615550666":
                raise PermanentError("unknown number")
            return SendResult(ref=f"ref-{message.id}", status="queued")

    sent = ("hotline_outbox_sent_total", (("channel", "sms"), ("source", "page")))
    failed = ("hotline_outbox_failed_total", (("channel", "sms"), ("source", "page")))
    before = scrape(client)
    with session_factory() as s:
        for n, number in enumerate(["+3615550101", "+3615550102", "+3615550666"]):
            outbox.enqueue(s, key=f"p{n}", channel="sms", destination=number, payload={"body": "x"}, now=now,
                           source_kind="page")
        s.commit()
    outbox.drain(session_factory, {"sms": Provider()}, lambda: now)
    after = scrape(client)
    assert after[sent] - before.get(sent, 0) == 2
    assert after[failed] - before.get(failed, 0) == 1


def test_agi_command_latency_from_a_finished_session(clocked, client):
    key = ("hotline_agi_command_seconds_count", (("command", "GET DATA"),))
    before = scrape(client).get(key, 0)
    metrics.observe_agi_commands([SimpleNamespace(command="GET DATA", gap=0.0004),
                                  SimpleNamespace(command="GET DATA", gap=0.003),
                                  SimpleNamespace(command="ANSWER", gap=None)])
    after = scrape(client)
    assert after[key] == before + 2
    assert after[("hotline_agi_command_seconds_bucket", (("command", "GET DATA"), ("le", "0.0005")))] >= 1


CHILD = textwrap.dedent("""
    import sys
    from callcenter import metrics
    from callcenter.config import load_settings
    metrics.configure(load_settings())
    if sys.argv[1] == "record":
        metrics.outbox_sent("sms", "page")
        metrics.observe_webhook("twilio_voice.incoming", 0.004)
    else:
        sys.stdout.write(metrics.exposition().decode())
""")


def test_processes_sharing_the_metrics_directory_add_up(tmp_path):
    env = {**os.environ, "CALLCENTER_METRICS_DIR": str(tmp_path / "metrics")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    for _ in range(3):  # three web/worker processes, one after the other or side by side: the same
        subprocess.run([sys.executable, "-c", CHILD, "record"], env=env, check=True, timeout=60)
    out = subprocess.run([sys.executable, "-c", CHILD, "scrape"], env=env, check=True, timeout=60,
                         capture_output=True, text=True).stdout
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(out) for s in family.samples}
    assert samples[("hotline_outbox_sent_total", (("channel", "sms"), ("source", "page")))] == 3
    assert samples[("hotline_webhook_seconds_count", (("endpoint", "twilio_voice.incoming"),))] == 3


def test_metrics_alone_for_machines_without_a_web_process(settings, engine):
    from werkzeug.test import Client

    app = Client(metrics.wsgi_app(settings, engine))
    resp = app.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert resp.status_code == 200 and b"hotline_database_up 1.0" in resp.data
    assert app.get("/metrics", environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 403
    assert app.get("/other").status_code == 404
    settings.metrics_token = "t0ken"
    assert app.get("/metrics", headers={"Authorization": "Bearer t0ken"},
                   environ_base={"REMOTE_ADDR": "10.1.2.3"}).status_code == 200
