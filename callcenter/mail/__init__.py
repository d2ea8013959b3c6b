"""E-mail channel: parsing, threading, the one ingestion service, outbound mail, IMAP and SMTP intake.

Importing this package registers the outbound subscribers, the IMAP polling and the spool jobs.
"""

from . import imap, outbound, spool  # noqa: F401
