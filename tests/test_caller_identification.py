"""Caller identification on the hot path: contracts from the loaded company, assets by their own numbers."""

from __future__ import annotations

from datetime import UTC, datetime

from callcenter.customers import active_contract, contract_at, find_asset_by_phone, identify_caller, local_date
from callcenter.models import Asset


def test_pbx_line_identifies_the_asset_and_its_company(session, demo) -> None:
    identity = identify_caller(session, "+30 210 555 0100", datetime(2026, 10, 6, 8, tzinfo=UTC))
    assert identity.asset.id == demo.pbx.id
    assert identity.company.id == demo.athens.id
    assert identity.contract is not None and identity.contract.is_standby


def test_a_number_that_only_contains_another_is_not_that_asset(session, demo) -> None:
    # "+302105550100" is a substring of this number: the text prefilter must not be the answer.
    session.add(Asset(company_id=demo.budapest.id, identifier="BUD-GW-9", kind="gateway",
                      phone_numbers=["+3021055501009"]))
    session.flush()
    assert find_asset_by_phone(session, "+302105550100").id == demo.pbx.id
    assert find_asset_by_phone(session, "+3021055501009").identifier == "BUD-GW-9"
    assert find_asset_by_phone(session, "+30210555010") is None


def test_contract_at_agrees_with_active_contract(session, demo) -> None:
    for company in (demo.budapest, demo.athens):
        for now in (datetime(2026, 10, 6, 8, tzinfo=UTC), datetime(2019, 1, 1, tzinfo=UTC),
                    datetime(2026, 12, 31, 23, 30, tzinfo=UTC)):
            expected = active_contract(session, company.id, local_date(now, company, session))
            assert contract_at(company, now) is expected
    assert contract_at(None, datetime(2026, 10, 6, tzinfo=UTC)) is None
