"""The console's menu. Other blueprints add their pages with `add_nav_item` when they register."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l

STAFF = frozenset({"agent", "engineer", "qa", "manager", "admin"})


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: object   # a lazy translated string
    roles: frozenset[str]
    order: int


NAV: list[NavItem] = [
    NavItem("console.queue", _l("Queue"), STAFF, 10),
    NavItem("portal.home", _l("Your tickets"), frozenset({"customer"}), 10),
    NavItem("console.ticket_list", _l("Tickets"), STAFF, 20),
    NavItem("portal.calls", _l("Your calls"), frozenset({"customer"}), 45),
    NavItem("console.new_ticket", _l("New ticket"), STAFF - {"qa"} | {"customer"}, 30),
    NavItem("console.companies", _l("Customers"), STAFF, 40),
    NavItem("reports.index", _l("Reports"), frozenset({"qa", "manager", "admin", "customer"}), 90),
]


def add_nav_item(endpoint: str, label: object, roles: set[str] | frozenset[str], order: int = 50) -> None:
    """E.g. add_nav_item("calls.log", _l("Calls"), STAFF, 50); idempotent per endpoint."""
    if any(item.endpoint == endpoint for item in NAV):
        return
    NAV.append(NavItem(endpoint, label, frozenset(roles), order))
    NAV.sort(key=lambda item: item.order)


def items_for(role: str) -> list[NavItem]:
    # The administrator sees every staff page; the customer's own pages are for customers.
    return [item for item in NAV if role in item.roles or (role == "admin" and item.roles & STAFF)]
