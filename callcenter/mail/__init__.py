"""E-mail channel: parsing, threading, the one ingestion service, outbound mail, IMAP and SMTP intake.

Importing this package registers the outbound subscribers and the IMAP polling job.
"""

from . import imap, outbound  # noqa: F401
