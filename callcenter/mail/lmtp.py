"""LMTP listener (RFC 2033) for the central mailbox: how Postfix hands mail to a long-running service
(`lmtp:inet:127.0.0.1:2424`), the way Dovecot takes it, without starting a process per message.

After the data, one reply per accepted recipient: 250 once the message is committed (a ticket, an
event, a duplicate, or quarantined with its reason), 451 on a transient failure (the database is
unreachable or stalled: Postfix keeps the mail and retries). A mail we could quarantine never gets
a 5xx. Concurrent deliveries are committed together, each mail in a savepoint of the shared
transaction (callcenter/mail/group.py): one commit for a burst instead of one per mail.

The protocol is small enough to speak directly on asyncio streams; reading the data in large
chunks (not line by line) keeps the listener's own cost well below the ingestion's.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from ..config import Settings

if TYPE_CHECKING:
    from .group import GroupIngest

log = logging.getLogger(__name__)

_PATH = re.compile(r"^(?:MAIL FROM|RCPT TO):\s*<([^<>]*)>", re.IGNORECASE)
MAX_COMMAND = 4096


@dataclass
class _Transaction:
    sender: str | None = None
    recipients: list[str] = field(default_factory=list)


Deliver = Callable[[bytes, str], str]  # (message, recipient) -> reply line


def ingest_reply(factory: sessionmaker[Session], settings: Settings,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC), *, committers: int = 2) -> GroupIngest:
    """The reply for one recipient once its message is stored: concurrent deliveries share transactions
    (callcenter/mail/group.py), each mail in a savepoint of its own."""
    from .group import GroupIngest

    return GroupIngest(factory, settings, clock, committers=committers)


class LmtpServer:
    """Serves LMTP on host:port (port 0: any free port, see `.port`) in a thread of its own."""

    def __init__(self, deliver: Deliver, mailboxes: set[str], *, host: str = "127.0.0.1", port: int = 2424,
                 max_message_bytes: int = 26 * 1024 * 1024, workers: int = 4, hostname: str | None = None,
                 reuse_port: bool = False) -> None:
        self.deliver, self.host, self.port = deliver, host, port
        self.reuse_port = reuse_port
        self.mailboxes = {m.lower() for m in mailboxes}
        self.max_message_bytes = max_message_bytes
        self.hostname = hostname or socket.getfqdn()
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lmtp-ingest")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> LmtpServer:
        self._thread = threading.Thread(target=self._run, name="lmtp", daemon=True)
        self._thread.start()
        self._ready.wait(30)
        if self._error is not None:
            raise self._error
        return self

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        try:
            # The stream limit bounds one read; a message may be twice the quarantine limit and is
            # still read whole (and quarantined as too large), beyond that it is refused with 552.
            self._server = self._loop.run_until_complete(asyncio.start_server(
                self._session, self.host, self.port, limit=2 * self.max_message_bytes + 65536,
                reuse_port=self.reuse_port or None))
            self.port = self._server.sockets[0].getsockname()[1]
        except BaseException as exc:  # e.g. the port is taken: tell start()
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            self._server.close()
            await self._server.wait_closed()

        if self._server is not None:
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._executor.shutdown(wait=True)
        close = getattr(self.deliver, "close", None)
        if close is not None:
            close()

    # -- one connection --------------------------------------------------------------------------
    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        tx = _Transaction()

        def send(*lines: str) -> None:
            writer.write("".join(line + "\r\n" for line in lines).encode("utf-8"))

        send(f"220 {self.hostname} LMTP Hotline ready")
        try:
            while True:
                await writer.drain()
                line = await reader.readline()
                if not line:
                    return
                if len(line) > MAX_COMMAND:
                    send("500 5.5.2 line too long")
                    continue
                command = line.decode("utf-8", "replace").rstrip("\r\n")
                verb = command.split(" ", 1)[0].upper()
                if verb == "LHLO":
                    send(f"250-{self.hostname}", "250-PIPELINING", "250-ENHANCEDSTATUSCODES", "250-8BITMIME",
                         "250-SMTPUTF8", f"250 SIZE {self.max_message_bytes}")
                elif verb == "MAIL":
                    match = _PATH.match(command)
                    if match is None:
                        send("501 5.5.4 syntax: MAIL FROM:<address>")
                        continue
                    tx = _Transaction(sender=match.group(1))
                    send("250 2.1.0 OK")
                elif verb == "RCPT":
                    match = _PATH.match(command)
                    if tx.sender is None:
                        send("503 5.5.1 MAIL first")
                    elif match is None:
                        send("501 5.5.4 syntax: RCPT TO:<address>")
                    elif match.group(1).lower() not in self.mailboxes:
                        send("550 5.1.1 no such mailbox here")
                    else:
                        tx.recipients.append(match.group(1).lower())
                        send("250 2.1.5 OK")
                elif verb == "DATA":
                    if not tx.recipients:
                        send("503 5.5.1 RCPT first")
                        continue
                    send("354 End data with <CR><LF>.<CR><LF>")
                    await writer.drain()
                    raw = await self._read_data(reader)
                    if raw is None:
                        send(*["552 5.3.4 message too large"] * len(tx.recipients))
                    else:
                        for reply in await self._deliver_all(raw, tx.recipients):  # in RCPT order
                            send(reply)
                    tx = _Transaction()
                elif verb == "RSET":
                    tx = _Transaction()
                    send("250 2.0.0 OK")
                elif verb == "NOOP":
                    send("250 2.0.0 OK")
                elif verb == "VRFY":
                    send("252 2.5.0 send some mail, I'll try my best")
                elif verb == "QUIT":
                    send("221 2.0.0 bye")
                    await writer.drain()
                    return
                else:
                    send("500 5.5.1 command not recognised")
        except (ConnectionError, asyncio.IncompleteReadError):
            log.info("LMTP: %s went away mid-session", peer)
        except Exception:
            log.exception("LMTP: session with %s failed", peer)
        finally:
            writer.close()

    async def _deliver_all(self, raw: bytes, recipients: list[str]) -> list[str]:
        """One reply per recipient, each sent only once its mail is committed (or refused)."""
        submit = getattr(self.deliver, "submit", None)
        if submit is not None:  # group commit: every recipient joins the next transaction at once
            futures = [asyncio.wrap_future(submit(raw, recipient)) for recipient in recipients]
            return [await future for future in futures]
        loop = asyncio.get_running_loop()
        return [await loop.run_in_executor(self._executor, self.deliver, raw, recipient) for recipient in recipients]

    async def _read_data(self, reader: asyncio.StreamReader) -> bytes | None:
        """The message up to <CRLF>.<CRLF>, dot-unstuffed; None when it is larger than we accept."""
        data: bytearray | None = bytearray()
        size, tail = 0, b""
        while True:
            ended = True
            try:
                # Only lines ending in "." can end the data: read up to each of those at once.
                chunk = await reader.readuntil(b".\r\n")
            except asyncio.LimitOverrunError as exc:  # no terminator within the limit: go on reading
                chunk, ended = await reader.readexactly(exc.consumed), False
            size += len(chunk)
            tail = (tail + chunk[-5:])[-5:]
            if data is not None:
                data += chunk
                if size > 2 * self.max_message_bytes:
                    data = None  # too large: read on to the end, keep nothing
            if ended and (tail.endswith(b"\r\n.\r\n") or (size == 3 and tail == b".\r\n")):
                break
        if data is None:
            return None
        body = bytes(data[:-3])  # keep the last line's CRLF, drop ".\r\n"
        body = body.replace(b"\r\n.", b"\r\n")  # RFC 5321 4.5.2: a leading dot was doubled
        return body[1:] if body.startswith(b".") else body


def serve_processes(settings: Settings, host: str, port: int, processes: int,
                    make_factory: Callable[[], sessionmaker[Session]]) -> None:
    """Run the listener until stopped: in this process, or in `processes` forked ones sharing the
    port (SO_REUSEPORT: the kernel spreads the MTA's connections). Ingestion is Python work under one
    interpreter lock per process, so on PostgreSQL more processes take more mail; SQLite has one
    writer at a time, keep one process there. A child that dies stops them all (the service manager
    restarts the listener)."""
    import os
    import signal
    import time

    from ..wiring import load_services

    def run(reuse_port: bool) -> None:
        load_services()
        server = LmtpServer(ingest_reply(make_factory(), settings), {settings.mail_from}, host=host, port=port,
                            max_message_bytes=settings.mail_max_message_bytes, reuse_port=reuse_port).start()
        log.info("LMTP listener on %s:%s for %s (pid %s)", server.host, server.port, settings.mail_from, os.getpid())
        try:
            while True:
                time.sleep(3600)
        finally:
            server.stop()

    if processes == 1:
        run(reuse_port=False)
        return
    children: list[int] = []
    for _ in range(processes):
        pid = os.fork()  # before any engine, pool or thread exists in this process
        if pid == 0:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                run(reuse_port=True)
            finally:
                os._exit(1)
        children.append(pid)

    def stop(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    try:
        pid, status = os.wait()
        log.error("LMTP listener process %s ended (status %s); stopping the others", pid, status)
        raise SystemExit(1)
    finally:
        for child in children:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
