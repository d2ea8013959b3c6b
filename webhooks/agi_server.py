"""FastAGI TCP server (`AGI(agi://HOST:4573/script?query,args)`) and the classic stdin/stdout runner."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys
import threading
from typing import Any

from .agi_protocol import AGI_PORT, AGIError, AGIHangup, AGIProtocolError, read_agi_environment
from .agi_session import AGISession, Handler, run_handler

log = logging.getLogger(__name__)

DEFAULT_MAX_SESSIONS = 800
# The channel variable a refused call finds set when AGI() returns (deploy/asterisk/extensions.conf).
REFUSED_VARIABLE = "HOTLINE_STATUS"
REFUSED_VALUE = "BUSY"



def _keep_alive(sock: Any) -> None:
    """TCP keepalive: a PBX host that vanished mid-bridge (no reply for hours is normal there) is
    noticed within minutes instead of holding the session until BRIDGE_SECONDS."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        for name, value in (("TCP_KEEPIDLE", 60), ("TCP_KEEPINTVL", 15), ("TCP_KEEPCNT", 4)):
            if hasattr(socket, name):
                sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)
    except OSError:
        pass


class FastAGIServer:
    """asyncio FastAGI server; ``handler(session)`` is called once per connection.

    Routing is the handler's business (``session.env.script``, ``.query``, ``.args``).
    """

    def __init__(
        self,
        handler: Handler,
        host: str = "127.0.0.1",
        port: int = AGI_PORT,
        *,
        header_timeout: float = 10.0,
        stop_grace: float = 5.0,
        max_sessions: int = DEFAULT_MAX_SESSIONS,
    ) -> None:
        self.handler = handler
        self.host = host
        self.port = port
        self.header_timeout = header_timeout
        self.stop_grace = stop_grace
        # Past this many calls in progress a new one is refused at once (see `_refuse`), instead of
        # queueing behind the others' database turns with nobody told.
        self.max_sessions = max_sessions
        self.calls_started = 0
        self.calls_finished = 0
        self.calls_refused = 0
        self.active = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def address(self) -> tuple[str, int]:
        if self._server is None or not self._server.sockets:
            return self.host, self.port
        sockname = self._server.sockets[0].getsockname()
        return sockname[0], sockname[1]

    async def start(self) -> tuple[str, int]:
        """Bind and start accepting; returns the bound (host, port) (port 0 picks one)."""
        self._loop = asyncio.get_running_loop()
        self._server = await asyncio.start_server(self._on_connect, self.host, self.port, backlog=512)
        host, port = self.address
        log.info("FastAGI server listening on %s:%s", host, port)
        return host, port

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        try:
            await self._server.serve_forever()
        except asyncio.CancelledError:
            await self.stop()
            raise

    def run(self) -> None:
        """Blocking entry point for a dedicated process: serve until SIGINT/SIGTERM."""

        async def main() -> None:
            await self.start()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                try:
                    loop.add_signal_handler(sig, stop.set)
                except (NotImplementedError, RuntimeError):
                    pass
            await stop.wait()
            await self.stop()

        asyncio.run(main())

    async def stop(self) -> None:
        """Stop accepting, give running calls ``stop_grace`` seconds, then cancel them."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        tasks = [t for t in self._tasks if not t.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=self.stop_grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        self._server = None

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        _keep_alive(writer.get_extra_info("socket"))
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        session: AGISession | None = None
        try:
            try:
                env = await asyncio.wait_for(read_agi_environment(reader), timeout=self.header_timeout)
            except AGIHangup:
                log.debug("AGI connection from %s closed during the header", peer)
                return
            except TimeoutError:
                log.warning("AGI connection from %s: no complete header in %.0fs", peer, self.header_timeout)
                return
            except AGIProtocolError as exc:
                log.warning("AGI connection from %s: bad header: %s", peer, exc)
                return
            session = AGISession(reader, writer, env)
            session.mark_started()
            if self.active >= self.max_sessions:
                await self._refuse(session, peer)
                return
            self.calls_started += 1
            self.active += 1
            try:
                await run_handler(self.handler, session, peer)
            finally:
                self.active -= 1
                self.calls_finished += 1
        finally:
            if session is not None:
                await session.close()
            else:
                writer.close()
                try:
                    await asyncio.wait_for(writer.wait_closed(), timeout=2.0)
                except (TimeoutError, ConnectionError, OSError):
                    pass

    async def _refuse(self, session: AGISession, peer: str) -> None:
        """Too many calls in progress: tell the dialplan (HOTLINE_STATUS=BUSY) and hang up on nothing,
        so AGI() returns at once and the dialplan's next priority routes the caller elsewhere."""
        self.calls_refused += 1
        log.warning("AGI call %s from %s refused: %d calls in progress (limit %d); the dialplan's next "
                    "priority runs", session.describe(), peer, self.active, self.max_sessions)
        session.reply_seconds = 2.0
        try:
            await session.set_variable(REFUSED_VARIABLE, REFUSED_VALUE)
        except AGIError as exc:
            log.debug("AGI call %s: refusal not delivered: %s", session.env.uniqueid, exc)

    # -- background thread (tests, benches, embedding next to a sync app)

    def start_in_thread(self) -> tuple[str, int]:
        """Run the server on its own event loop in a daemon thread; returns (host, port)."""
        if self._thread is not None:
            raise RuntimeError("server thread already running")
        ready = threading.Event()
        result: dict[str, Any] = {}
        loop = asyncio.new_event_loop()

        def runner() -> None:
            asyncio.set_event_loop(loop)
            try:
                result["address"] = loop.run_until_complete(self.start())
            except BaseException as exc:  # report bind errors to the caller thread
                result["error"] = exc
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=runner, name="fastagi-server", daemon=True)
        self._thread.start()
        ready.wait()
        if "error" in result:
            self._thread = None
            raise result["error"]
        self._loop = loop
        return result["address"]

    def stop_thread(self, timeout: float = 10.0) -> None:
        if self._thread is None or self._loop is None:
            return
        loop = self._loop
        fut = asyncio.run_coroutine_threadsafe(self.stop(), loop)
        try:
            fut.result(timeout=timeout)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            self._thread.join(timeout=timeout)
            self._thread = None


# --------------------------------------------------------------------------- classic AGI (stdin/stdout)


class _ThreadedLineReader:
    """Async readline over a blocking binary file (works for pipes, ttys and regular files)."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        return await asyncio.to_thread(self._stream.readline)


class _FileLineWriter:
    def __init__(self, stream: Any) -> None:
        self._stream = stream

    def write(self, data: bytes) -> None:
        self._stream.write(data)

    async def drain(self) -> None:
        self._stream.flush()

    def close(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass


def run_stdio(handler: Handler, stdin: Any = None, stdout: Any = None) -> AGISession | None:
    """Run ``handler`` once as a classic AGI script (Asterisk forks us, talks over stdin/stdout).

    Logging must not go to stdout (that is the AGI channel); use stderr or a file.
    Asterisk signals hangup with SIGHUP here (no HANGUP line); the default action
    would kill the process mid-bookkeeping, so it only marks the session.
    Returns the session (for its timings) or None if the header never arrived.
    """
    in_stream = stdin if stdin is not None else sys.stdin.buffer
    out_stream = stdout if stdout is not None else sys.stdout.buffer

    async def main() -> AGISession | None:
        reader = _ThreadedLineReader(in_stream)
        writer = _FileLineWriter(out_stream)
        try:
            env = await read_agi_environment(reader)
        except AGIError as exc:
            log.warning("classic AGI: no usable header: %s", exc)
            return None
        session = AGISession(reader, writer, env)
        session.mark_started()
        loop = asyncio.get_running_loop()
        installed = False
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "SIGHUP"):
            try:
                loop.add_signal_handler(signal.SIGHUP, session._mark_hungup, "SIGHUP")
                installed = True
            except (NotImplementedError, RuntimeError, ValueError):
                pass
        try:
            await run_handler(handler, session, "stdio")
        finally:
            if installed:
                loop.remove_signal_handler(signal.SIGHUP)
            writer.close()
        return session

    return asyncio.run(main())
