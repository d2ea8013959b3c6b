"""The `callcenter` executable. An MTA starts `callcenter mail-ingest` once per message, so that one
command skips the command-line framework: it reads the settings, appends the message to the mail spool
with the database driver alone (callcenter/mailpipe.py) and exits. Every other command line, and any
`mail-ingest` form this does not recognise, goes to the full click CLI (callcenter/cli.py), which
defines the commands, their options and their help.
"""

from __future__ import annotations

import sys

LOG_FORMATS = ("text", "json")


def _mailbox_option(args: list[str]) -> str | None:
    """The --mailbox value of a plain `mail-ingest` command line ("" without one); None for anything
    else (help, other options, a malformed value), which the full CLI then handles."""
    if not args:
        return ""
    if len(args) == 2 and args[0] == "--mailbox" and args[1] and not args[1].startswith("-"):
        return args[1]
    if len(args) == 1 and args[0].startswith("--mailbox=") and len(args[0]) > len("--mailbox="):
        return args[0].split("=", 1)[1]
    return None


def _mail_ingest(mailbox: str) -> int | None:
    """Exit code of the spooled delivery, or None when the full CLI must take over (its errors)."""
    from .config import load_settings

    settings = load_settings()
    if (settings.log_format or "text").strip().lower() not in LOG_FORMATS:
        return None  # the full CLI reports the setting as a usage error
    from .mailpipe import run_pipe

    return run_pipe(settings, sys.stdin.buffer.read(), mailbox or None, configure_logging=True)


def main() -> None:
    args = sys.argv[1:]
    if args[:1] == ["mail-ingest"]:
        mailbox = _mailbox_option(args[1:])
        if mailbox is not None:
            code = _mail_ingest(mailbox)
            if code is not None:
                sys.exit(code)
    from .cli import main as full_cli

    full_cli()


if __name__ == "__main__":
    main()
