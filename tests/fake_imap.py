"""A minimal IMAP4rev1 server over TCP for tests: CAPABILITY, LOGIN, SELECT, UID SEARCH UNSEEN,
UID FETCH <uid> (RFC822 | BODY[] | BODY.PEEK[]), UID STORE <uid> +FLAGS (\\Seen), NOOP, LOGOUT.
One mailbox, in memory.

Like Dovecot (and RFC 3501 6.4.5), fetching RFC822 or BODY[] sets \\Seen as a side effect; only
BODY.PEEK[] leaves the flags alone.

`fail_store` makes every STORE fail, to show that a message is only flagged after the commit and
that a failed flag causes nothing worse than a re-read (a duplicate the ingest service skips).
"""

from __future__ import annotations

import re
import socketserver
import threading


class FakeImapServer:
    def __init__(self, username: str = "helpdesk", password: str = "secret") -> None:
        self.username, self.password = username, password
        self.messages: dict[int, bytes] = {}
        self.seen: set[int] = set()
        self.fail_store = False
        self.log: list[str] = []
        self._next_uid = 1
        self._lock = threading.Lock()
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                server._session(self.rfile, self.wfile)

        self._tcp = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._tcp.daemon_threads = True
        self.port = self._tcp.server_address[1]
        self._thread = threading.Thread(target=self._tcp.serve_forever, daemon=True)

    def add(self, raw: bytes) -> int:
        with self._lock:
            uid = self._next_uid
            self._next_uid += 1
            self.messages[uid] = raw
            return uid

    def start(self) -> FakeImapServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._tcp.shutdown()
        self._tcp.server_close()

    @property
    def url(self) -> str:
        return f"imap://{self.username}:{self.password}@127.0.0.1:{self.port}/INBOX"

    def _session(self, rfile, wfile) -> None:  # noqa: ANN001
        def send(line: str | bytes) -> None:
            wfile.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")
            wfile.flush()

        send("* OK [CAPABILITY IMAP4rev1] fake IMAP ready")
        authed = selected = False
        while True:
            line = rfile.readline()
            if not line:
                return
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            self.log.append(text)
            tag, _, rest = text.partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                send("* CAPABILITY IMAP4rev1")
                send(f"{tag} OK CAPABILITY completed")
            elif command == "NOOP":
                send(f"{tag} OK NOOP completed")
            elif command == "LOGIN":
                parts = [p.strip('"') for p in args.split(" ")]
                if parts == [self.username, self.password]:
                    authed = True
                    send(f"{tag} OK LOGIN completed")
                else:
                    send(f"{tag} NO [AUTHENTICATIONFAILED] invalid credentials")
            elif command == "LOGOUT":
                send("* BYE logging out")
                send(f"{tag} OK LOGOUT completed")
                return
            elif not authed:
                send(f"{tag} BAD log in first")
            elif command == "SELECT":
                if args.strip('"').upper() != "INBOX":
                    send(f"{tag} NO no such mailbox")
                    continue
                selected = True
                with self._lock:
                    send(f"* {len(self.messages)} EXISTS")
                    send(f"* OK [UIDNEXT {self._next_uid}] predicted next UID")
                send("* FLAGS (\\Seen)")
                send(f"{tag} OK [READ-WRITE] SELECT completed")
            elif command == "UID" and selected:
                self._uid(tag, args, send)
            else:
                send(f"{tag} BAD unsupported command {command}")

    def _uid(self, tag: str, args: str, send) -> None:  # noqa: ANN001
        sub, _, rest = args.partition(" ")
        sub = sub.upper()
        with self._lock:
            uids = sorted(self.messages)
            if sub == "SEARCH" and rest.upper() == "UNSEEN":
                send("* SEARCH " + " ".join(str(u) for u in uids if u not in self.seen))
                send(f"{tag} OK SEARCH completed")
            elif sub == "FETCH" and (m := re.fullmatch(r"(\d+) \(?(RFC822|BODY\[\]|BODY\.PEEK\[\])\)?", rest,
                                                     re.IGNORECASE)):
                uid, item = int(m.group(1)), m.group(2).upper()
                if uid in self.messages:
                    raw = self.messages[uid]
                    seq = uids.index(uid) + 1
                    name = "RFC822" if item == "RFC822" else "BODY[]"
                    flags = ""
                    if item != "BODY.PEEK[]" and uid not in self.seen:
                        self.seen.add(uid)  # the side effect a real server has
                        flags = " FLAGS (\\Seen)"
                    send(f"* {seq} FETCH (UID {uid}{flags} {name} {{{len(raw)}}}".encode() + b"\r\n" + raw + b")\r\n")
                send(f"{tag} OK FETCH completed")
            elif sub == "STORE" and re.fullmatch(r"\d+ \+FLAGS \(\\Seen\)", rest, re.IGNORECASE):
                uid = int(rest.split()[0])
                if self.fail_store:
                    send(f"{tag} NO STORE failed")
                    return
                if uid in self.messages:
                    self.seen.add(uid)
                    send(f"* {uids.index(uid) + 1} FETCH (UID {uid} FLAGS (\\Seen))")
                send(f"{tag} OK STORE completed")
            else:
                send(f"{tag} BAD unsupported UID command")
