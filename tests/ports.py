"""Ports for the servers a test starts itself, mostly in another process that binds them later.

The usual trick, bind port 0 and close, races: until the server binds the port, any bind(0) in the
suite (a FastAGI or HTTP server on port 0, another `free_port()`) or outgoing connection may be given
the same one; two back-to-back picks coincide about once in 5,000. So a port is picked at random
below the kernel's ephemeral range, which bind(0) and outgoing connections never use, checked to be
free, and never handed out twice in one run."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

_given: set[int] = set()
_lock = threading.Lock()
_rng = random.Random()  # not the global one: tests seed that


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free now and that nothing else in this run will be given."""
    low, high = 10000, _ephemeral_low() - 1
    with _lock:
        for _ in range(1000):
            port = _rng.randint(low, high) if high - low > 1000 else 0
            if port in _given:
                continue
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                port = s.getsockname()[1]
            if port not in _given:
                _given.add(port)
                return port
    raise RuntimeError("no free TCP port on 127.0.0.1")
