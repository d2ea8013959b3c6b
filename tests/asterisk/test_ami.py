"""With CALLCENTER_AMI_URL, the hotline queue's members follow the agents' availability (real Asterisk, AMI)."""

from __future__ import annotations

from datetime import timedelta

from pbx_fixtures import *  # noqa: F403

from callcenter import agents
from callcenter.providers.asterisk_ami import parse_ami_url, sync_now


def _members(pbx) -> str:  # noqa: ANN001
    return pbx.cli("queue show hotline")


def test_queue_members_follow_the_desk(pbx, demo, session, settings, now) -> None:  # noqa: ANN001
    settings.ami_url = pbx.ami_url
    settings.asterisk_queue_member = "Local/{username}@test-agent/n"
    agent1 = agents.agent_for(session, demo.staff["agent1"].id, now)
    agents.set_state(session, agent1, "available", now)
    session.commit()
    assert sync_now(session, settings).added == ["Local/agent1@test-agent/n"]
    assert "Local/agent1@test-agent/n" in _members(pbx) and "paused" not in _members(pbx).lower()
    # On a call, then in wrap-up: a paused member (Asterisk offers it no caller).
    agents.set_state(session, agent1, "wrap_up", now + timedelta(minutes=1), "call")
    session.commit()
    assert sync_now(session, settings).paused == ["Local/agent1@test-agent/n"]
    assert "paused" in _members(pbx).lower()
    # Logged out: out of the queue. Nothing left to do on the next tick.
    agents.set_state(session, agent1, "offline", now + timedelta(minutes=2))
    session.commit()
    assert sync_now(session, settings).removed == ["Local/agent1@test-agent/n"]
    assert "Local/agent1@test-agent/n" not in _members(pbx)
    result = sync_now(session, settings)
    assert result.added == result.paused == result.unpaused == result.removed == []


def test_without_an_ami_url_nothing_happens(session, settings) -> None:  # noqa: ANN001
    settings.ami_url = ""
    assert sync_now(session, settings) is None


def test_ami_url_is_checked() -> None:
    address = parse_ami_url("ami://hotline:s%40cret@127.0.0.1:5039")
    assert (address.host, address.port, address.username, address.secret) == ("127.0.0.1", 5039, "hotline", "s@cret")
    try:
        parse_ami_url("http://127.0.0.1:5038")
    except ValueError as exc:
        assert "ami://user:secret@host:5038" in str(exc)
    else:
        raise AssertionError("a wrong URL must be refused")
