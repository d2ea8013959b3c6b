"""Classic `AGI(hotline.agi)` entry: Asterisk forks bin/hotline.agi per call and talks over stdin/stdout.

pyst2 reads the AGI environment and sends the commands; the call runs the same engine and the
same performer as FastAGI. pyst2 installs a SIGHUP handler, so it must be built in the main thread
(a forked script is). RECORD FILE's reply is read here rather than by pyst2, which raises on
`result=-1 (hangup)` and would lose a voice message ended by hanging up.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from asterisk import agi as pyst2

from .agi_protocol import AGIHangup, AGIProtocolError, parse_agi_response

log = logging.getLogger(__name__)


class Pyst2Channel:
    def __init__(self, agi: Any) -> None:
        self.agi = agi
        self._hungup = False

    @property
    def hungup(self) -> bool:
        return self._hungup or bool(getattr(self.agi, "_got_sighup", False))

    def _call(self, fn: Any, *args: object) -> Any:
        if self.hungup:
            raise AGIHangup("channel hung up")
        try:
            return fn(*args)
        except pyst2.AGIHangup as exc:
            self._hungup = True
            raise AGIHangup(str(exc)) from exc
        except (pyst2.AGIUnknownError, ValueError) as exc:  # 511, or pyst2 choking on a HANGUP/EOF line
            self._hungup = True
            raise AGIHangup(f"channel gone: {exc}") from exc

    async def answer(self) -> None:
        self._call(self.agi.answer)

    async def play(self, file: str, escape_digits: str = "") -> str | None:
        try:
            return self._call(self.agi.stream_file, file, escape_digits) or None
        except pyst2.AGIAppError:
            return None  # missing prompt file: keep the call going

    async def get_data(self, file: str, timeout_ms: int, max_digits: int) -> str | None:
        return self._call(self.agi.get_data, file, timeout_ms, max_digits) or None

    async def record(self, file: str, max_ms: int, silence_s: int) -> int:
        # Most messages end with the caller hanging up: `200 result=-1 (hangup) endpos=N`. pyst2 raises
        # on that reply and drops the end position, so this command's reply is read here, with the
        # FastAGI parser, and the recording up to the hang-up is kept.
        if self.hungup:
            raise AGIHangup("channel hung up")
        self.agi.send_command("RECORD FILE", f'"{file}"', "wav", '"#"', max_ms, 0, f"s={silence_s}")
        line = self._read_line()
        if line == "HANGUP":  # AGISIGHUP=no: Asterisk says so in-band, then replies
            self._hungup = True
            line = self._read_line()
        try:
            reply = parse_agi_response(line)
        except AGIProtocolError as exc:
            self._hungup = True
            raise AGIHangup(f"channel gone: {exc}") from exc
        if reply.dead_channel or reply.result == -1 or reply.data == "hangup":
            self._hungup = True
        if not reply.ok:
            raise AGIHangup(f"RECORD FILE refused: {line}")
        return reply.endpos or 0

    def _read_line(self) -> str:
        raw = self.agi.stdin.readline()
        if not raw:
            self._hungup = True
            raise AGIHangup("Asterisk closed the AGI pipe")
        return (raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw).strip()

    async def exec(self, app: str, *args: object) -> None:
        joined = ",".join("" if a is None else str(a) for a in args)
        try:
            self._call(self.agi.execute, "EXEC", app, f'"{joined}"')
        except pyst2.AGIAppError:
            pass  # the application returned -1 (typically the caller left): the next command tells

    async def set_variable(self, name: str, value: str) -> None:
        self._call(self.agi.execute, "SET VARIABLE", name, f'"{value}"')

    async def get_variable(self, name: str) -> str | None:
        return self._call(self.agi.get_variable, name) or None

    async def hangup(self) -> None:
        try:
            self._call(self.agi.hangup)
        except AGIHangup:
            pass
        self._hungup = True


def main() -> int:
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING,
                        format="hotline.agi %(levelname)s %(name)s: %(message)s")
    from callcenter.config import load_settings
    from callcenter.db import DbTimeouts, make_engine
    from callcenter.wiring import load_services

    from .fastagi import HotlineAGI

    load_services()
    settings = load_settings(classic_settings_file(sys.argv[1:]))
    channel_agi = pyst2.AGI(sys.stdin, sys.stdout, _LogStream())
    env = channel_agi.env
    callerid = env.get("agi_callerid")
    dnid = env.get("agi_dnid")
    engine = make_engine(settings.database_url, timeouts=DbTimeouts.from_settings(settings))
    try:
        asyncio.run(HotlineAGI(settings, engine).run(
            Pyst2Channel(channel_agi), env.get("agi_uniqueid", ""),
            None if callerid in (None, "", "unknown") else callerid,
            None if dnid in (None, "", "unknown") else dnid))
    finally:
        engine.dispose()
    return 0


# Asterisk starts the classic script with its own environment, which rarely holds CALLCENTER_*:
# the settings come from a file instead, named as the AGI's first argument (deploy/asterisk/
# extensions.conf passes ${HOTLINE_CONFIG}) or in this default place.
DEFAULT_SETTINGS_FILE = "/etc/hotline/hotline.toml"


def classic_settings_file(args: list[str], default: str = DEFAULT_SETTINGS_FILE) -> str | None:
    """The settings file for this run: the first argument if given, else `default` if it exists;
    None leaves CALLCENTER_CONFIG (if Asterisk's environment has it) and the defaults."""
    if args and args[0].strip():
        return args[0].strip()
    return default if Path(default).is_file() else None


class _LogStream:
    """pyst2 writes a debug line per command to its stderr; keep them out of Asterisk's console."""

    def write(self, text: str) -> None:
        if text.strip():
            log.debug(text.rstrip())

    def flush(self) -> None:
        pass
