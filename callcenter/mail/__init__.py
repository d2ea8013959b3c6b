"""E-mail channel: parsing, threading, the one ingestion service, outbound mail, IMAP and SMTP intake.

Importing this package registers the IMAP polling and the spool jobs (the outbound mail handlers are
wired in callcenter/handlers.py).
"""

from . import imap, outbound, spool  # noqa: F401
