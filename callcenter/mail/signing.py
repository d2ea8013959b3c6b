"""Our own Message-IDs and body markers, signed with the installation's mail secret.

The secret is generated at random once, by the migration that creates it (`callcenter db upgrade`),
and read from the database by every process, so web, worker, mail-listen and mail-ingest agree on it
without configuration. It is never derived from a setting: a key made from the database URL let a
stranger compute a valid `In-Reply-To` (issue 15, item 2).

    <hl.15789.ab12cd34ef.<mac12>@own.domain>     every mail we send about ticket 15789
    <hl.15789.a<token26>.<mac12>@own.domain>      an approval request: the token proves receipt
    [ref:hl-15789-<mac10>]                         the body marker at the foot of every mail
    [ref:hl-15789-<mac10>-a<token26>]              the body marker of an approval request
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import InstallationSecret, utcnow

SECRET_NAME = "mail"
_INFO_KEY = "mail_signer"
_OWN_ID = re.compile(r"^hl\.(\d{1,12})\.([0-9a-z]{1,40})\.([0-9a-f]{12})@(.+)$")
_MARKER = re.compile(r"\[ref:hl-(\d{1,12})-([0-9a-f]{10})(?:-(a[a-z2-7]{26}))?\]", re.IGNORECASE)
_TOKEN = re.compile(r"^a[a-z2-7]{26}$")


def new_token() -> str:
    """An approval token: 'a' and 130 random bits in lower-case base32 (Message-ID and marker safe)."""
    return "a" + base64.b32encode(secrets.token_bytes(17)).decode().lower().rstrip("=")[:26]


def token_hash(token: str) -> str:
    return hashlib.sha256(token.lower().encode()).hexdigest()


def is_token(text: str) -> bool:
    return bool(_TOKEN.match(text))


@dataclass(frozen=True)
class OwnId:
    number: int
    article: str

    @property
    def token(self) -> str | None:
        return self.article if is_token(self.article) else None


class MailSigner:
    def __init__(self, key: bytes, domain: str) -> None:
        self._key = hashlib.sha256(b"hotline-mail-ids\0" + key).digest()
        self.domain = domain.lower()

    def _mac(self, number: int, article: str) -> str:
        return hmac.new(self._key, f"{number}.{article}".encode(), hashlib.sha256).hexdigest()[:12]

    def message_id(self, number: int, article: str | None = None) -> str:
        """`<hl.15789.ab12cd34ef.<mac>@own.domain>`: carries the ticket number, checked on the way back."""
        article = article or uuid.uuid4().hex[:10]
        return f"<hl.{number}.{article}.{self._mac(number, article)}@{self.domain}>"

    def decode(self, message_id: str) -> OwnId | None:
        """The ticket number (and article) of one of our Message-IDs, None when not ours or forged."""
        match = _OWN_ID.match(message_id.strip().strip("<>").lower())
        if not match or match.group(4) != self.domain:
            return None
        number, article, mac = int(match.group(1)), match.group(2), match.group(3)
        return OwnId(number, article) if hmac.compare_digest(mac, self._mac(number, article)) else None

    def ticket_reference(self, number: int) -> str:
        """The stable id every mail about a ticket references (RT style)."""
        return f"<ticket-{number}@{self.domain}>"

    def body_marker(self, number: int, token: str | None = None) -> str:
        """The line at the foot of every mail we send (reference B.1 step 4): a reply that lost its
        headers and its subject still carries it in the quoted text."""
        mark = f"[ref:hl-{number}-{self._mac(number, 'ref')[:10]}"
        return mark + (f"-{token}]" if token else "]")

    def markers(self, *texts: str | None) -> list[OwnId]:
        """Our body markers in the texts, in order, those whose signature checks (article 'ref' or
        the approval token they carry)."""
        found: list[OwnId] = []
        for text in texts:
            for number, mac, token in _MARKER.findall(text or ""):
                if not hmac.compare_digest(mac.lower(), self._mac(int(number), "ref")[:10]):
                    continue
                mark = OwnId(int(number), token.lower() if token else "ref")
                if mark not in found:
                    found.append(mark)
        return found

    def is_own_domain_id(self, message_id: str | None) -> bool:
        return bool(message_id) and message_id.strip().strip("<>").lower().endswith("@" + self.domain)


def own_domain(settings: Settings) -> str:
    return settings.mail_from.rsplit("@", 1)[-1].lower()


def installation_secret(session: Session, name: str = SECRET_NAME) -> str:
    """The named installation secret; made (at random) if a database lost or never had it."""
    value = session.scalar(select(InstallationSecret.value).where(InstallationSecret.name == name))
    if value is not None:
        return value
    # `db upgrade` creates it; this covers a database emptied by hand (or by the test suite).
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    session.execute(insert(InstallationSecret).values(name=name, value=secrets.token_hex(32), created_at=utcnow())
                    .on_conflict_do_nothing(index_elements=["name"]))
    return session.scalar(select(InstallationSecret.value).where(InstallationSecret.name == name))


def signer_for(session: Session, settings: Settings) -> MailSigner:
    """The signer of this unit of work (the secret is read once per session)."""
    signer = session.info.get(_INFO_KEY)
    if signer is None or signer.domain != own_domain(settings):
        signer = MailSigner(bytes.fromhex(installation_secret(session)), own_domain(settings))
        session.info[_INFO_KEY] = signer
    return signer
