"""Downloads into local storage (call recordings from Twilio), done by the worker, not the webhook."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import requests

from ..config import Settings
from .base import PermanentError, SendResult, TemporaryError


class DownloadProvider:
    name = "download"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def reconcile(self, message: Any) -> list[SendResult]:
        """A download is idempotent (written atomically under its final name): just do it again."""
        return []

    def send(self, message: Any) -> SendResult:
        p = message.payload
        root = self.settings.recordings_path
        target = (root / p["path"]).resolve()
        if root.resolve() not in target.parents:
            raise PermanentError(f"refusing to write outside the recordings store: {p['path']}")
        auth = None
        if p.get("auth") == "twilio" and self.settings.twilio_enabled:
            auth = (self.settings.twilio_account_sid, self.settings.twilio_auth_token)
        session = requests.Session()
        if p.get("no_proxy"):
            session.trust_env = False
        try:
            response = session.get(message.destination, auth=auth, timeout=30, stream=True)
        except requests.RequestException as exc:
            raise TemporaryError(f"download failed: {exc}") from exc
        if response.status_code == 404:
            # Twilio may not have finished processing the file yet.
            raise TemporaryError("not there yet (404)", "404")
        if response.status_code >= 500 or response.status_code == 429:
            raise TemporaryError(f"server said {response.status_code}", str(response.status_code))
        if response.status_code != 200:
            raise PermanentError(f"server said {response.status_code}", str(response.status_code))
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(target.suffix + ".part")
        digest = hashlib.sha256()
        size = 0
        with open(partial, "wb") as fh:
            for chunk in response.iter_content(64 * 1024):
                fh.write(chunk)
                digest.update(chunk)
                size += len(chunk)
        os.replace(partial, target)  # readers never see half a file
        return SendResult(ref=str(Path(p["path"])), status="stored", final=True,
                          payload_update={"bytes": size, "sha256": digest.hexdigest(),
                                          "content_type": response.headers.get("Content-Type")})
