"""A TCP proxy for fault tests: put it in front of PostgreSQL, then make the database stall and recover.

`stall()`: the database "accepts connections and never answers". New connections are accepted and
not forwarded; on open connections nothing more goes either way (what was read is held). `recover()`:
held bytes are delivered, waiting connections are forwarded, traffic flows again. `cut()` closes
every connection (a network partition that resets); `refuse()` also closes each new connection at once
(the database is down or restarting) until `recover()`.

    with StallingProxy("127.0.0.1", 5432) as proxy:
        url = f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/hotline"
        ...
        proxy.stall(); ...; proxy.recover()
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field


@dataclass
class _Link:
    client: socket.socket
    server: socket.socket | None = None
    closed: threading.Event = field(default_factory=threading.Event)

    def close(self) -> None:
        self.closed.set()
        for sock in (self.client, self.server):
            if sock is None:
                continue
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class StallingProxy:
    def __init__(self, target_host: str, target_port: int, host: str = "127.0.0.1", port: int = 0) -> None:
        self.target = (target_host, target_port)
        self._listener = socket.create_server((host, port), backlog=256)
        self.host, self.port = self._listener.getsockname()[:2]
        self._flowing = threading.Event()
        self._flowing.set()
        self._refusing = threading.Event()
        self._stopping = threading.Event()
        self._links: list[_Link] = []
        self._lock = threading.Lock()
        self.accepted = 0
        self._thread = threading.Thread(target=self._accept, name="stalling-proxy", daemon=True)

    # -- control

    def start(self) -> StallingProxy:
        self._thread.start()
        return self

    def stall(self) -> None:
        self._flowing.clear()

    def recover(self) -> None:
        self._refusing.clear()
        self._flowing.set()

    def refuse(self) -> None:
        """The database goes away: open connections are reset and new ones closed at once (what a
        client sees of a server that is down or restarting), until `recover()`."""
        self._refusing.set()
        self.cut()

    @property
    def stalled(self) -> bool:
        return not self._flowing.is_set()

    def cut(self) -> None:
        with self._lock:
            links, self._links = self._links, []
        for link in links:
            link.close()

    def stop(self) -> None:
        self._stopping.set()
        self._flowing.set()
        try:
            # close() alone leaves a socket blocked in accept() listening (Linux): shut it down first.
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        self.cut()
        self._thread.join(timeout=5)

    def __enter__(self) -> StallingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- plumbing

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            if self._refusing.is_set():
                client.close()
                continue
            link = _Link(client)
            with self._lock:
                self._links.append(link)
            threading.Thread(target=self._connect, args=(link,), daemon=True).start()

    def _connect(self, link: _Link) -> None:
        self._wait_flowing(link)  # a stalled database accepts the connection and says nothing
        if link.closed.is_set():
            return
        try:
            link.server = socket.create_connection(self.target, timeout=10)
            link.server.settimeout(None)
        except OSError:
            link.close()
            return
        threading.Thread(target=self._pump, args=(link, link.client, link.server), daemon=True).start()
        threading.Thread(target=self._pump, args=(link, link.server, link.client), daemon=True).start()

    def _wait_flowing(self, link: _Link) -> None:
        while not self._flowing.wait(0.05):
            if link.closed.is_set() or self._stopping.is_set():
                return

    def _pump(self, link: _Link, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                self._wait_flowing(link)
                data = src.recv(65536)
                if not data:
                    break
                self._wait_flowing(link)  # read during a stall: held until it ends
                if link.closed.is_set():
                    break
                dst.sendall(data)
        except OSError:
            pass
        link.close()
        with self._lock:
            if link in self._links:
                self._links.remove(link)
