"""The `callcenter` command: serve the parts, migrate, seed, and the operators' tools.

The commands live in `callcenter/commands/`, one module per concept; this group names them and
imports a module only when one of its commands runs or shows its help. `callcenter --help` lists
every command from the one-line summaries below without importing any of them, and each command
imports what it needs inside itself: SQLAlchemy alone costs more than the whole `--help`.
tests/test_cli_lazy.py checks that the summaries are the commands' own.
"""

from __future__ import annotations

import importlib
import sys

import click

# name -> (module in callcenter.commands, attribute, the first paragraph of the command's help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "agi": ("serve", "agi", "Serve the FastAGI hotline only (AGI(agi://HOST:4573/hotline))."),
    "alert": ("alerts", "alert", "Raise, list, acknowledge, escalate and resolve alerts (pages)."),
    "call": ("calls", "call_group", "Hotline calls."),
    "db": ("admin", "db", "Database schema."),
    "events": ("events", "events_group", "After-commit domain events (customer mail, other effects of a change)."),
    "mail": ("mail", "mail_group", "E-mail channel tools."),
    "mail-ingest": ("mail", "mail_ingest",
                    "Take one RFC 822 message from stdin (for an MTA pipe). Exit 0 once it is committed to the mail\n"
                    "spool (a worker makes the ticket within seconds), 75 when the database cannot take it: retry "
                    "later."),
    "mail-listen": ("mail", "mail_listen",
                    "Receive mail for the central mailbox: LMTP from an MTA (recommended), or SMTP for small sites."),
    "metrics": ("serve", "metrics_group", "Prometheus metrics."),
    "oncall": ("oncall", "oncall", "On-call rotations: who is on call, the schedule, overrides."),
    "prompts": ("calls", "prompts", "Audio prompts for Asterisk."),
    "report": ("report", "report", "Reports for customers and for the help desk itself."),
    "search-reindex": ("admin", "search_reindex_cmd",
                       "Rebuild every ticket's full-text search document (after a bulk import, or to repair the "
                       "index)."),
    "seed-demo": ("admin", "seed_demo_cmd", "Load the fictional demo customers and staff (idempotent)."),
    "serve": ("serve", "serve_all", "Web, FastAGI and the scheduler in one process (the embedded default)."),
    "sla": ("sla", "sla", "SLA clock tools."),
    "user": ("users", "user", "Staff users and API tokens."),
    "web": ("serve", "web", "Serve the web console, API and Twilio webhooks only."),
    "worker": ("serve", "worker", "Run the scheduler ticker only: timers, outbox, periodic jobs (run as many as you "
                                  "like)."),
}


def load_command(name: str) -> click.Command:
    """The command itself, its module imported now."""
    module, attribute, _summary = COMMANDS[name]
    return getattr(importlib.import_module(f"callcenter.commands.{module}"), attribute)


class LazyGroup(click.Group):
    """A group whose commands are imported when they are used, not when the group is."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self.add_command(load_command(cmd_name), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # The listing needs only each command's summary: stand-ins carry it, and click shortens it as it
        # would the command's own help.
        stand_ins = {name: click.Command(name, help=summary) for name, (_m, _a, summary) in COMMANDS.items()}
        listed = click.Group(self.name, commands={**stand_ins, **self.commands})
        listed.format_commands(ctx, formatter)


@click.group(cls=LazyGroup)
@click.option("--verbose", "-v", is_flag=True, help="debug logging")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Hotline help desk and call centre."""
    import logging

    from .commands.context import Context
    from .logs import configure as configure_logging

    ctx.obj = Context()
    try:
        configure_logging(ctx.obj.settings.log_format, logging.DEBUG if verbose else logging.INFO)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # One line per tick job every two seconds would drown what matters.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if verbose else logging.WARNING)
    # The Twilio library logs every REST request's headers at INFO: a dozen lines per SMS or call look-up.
    logging.getLogger("twilio.http_client").setLevel(logging.DEBUG if verbose else logging.WARNING)


def main() -> None:
    try:
        cli(prog_name="callcenter")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
