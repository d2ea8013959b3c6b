"""Schemathesis against the live app: every operation of /api/v1/openapi.json with generated valid and
invalid input (and the stateful links the document declares): no 5xx, and every answer as documented.

Bounded by CALLCENTER_FUZZ_SECONDS (default 40 per database); README says how to run it longer."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from browser import serve

from callcenter.auth import issue_token
from callcenter.models import utcnow

ST = Path(sys.executable).with_name("st")
pytestmark = pytest.mark.skipif(not ST.exists() and shutil.which("st") is None,
                                reason="schemathesis is not installed (pip install -e '.[test]')")

CHECKS = ",".join([
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_schema_conformance",
    "response_headers_conformance", "unsupported_method", "allow_header_conformance",
])


def test_schemathesis_finds_no_server_error_and_no_schema_violation(app, demo, session, tmp_path) -> None:  # noqa: ANN001
    token = issue_token(session, "admin", utcnow(), label="fuzz")
    session.commit()
    seconds = os.environ.get("CALLCENTER_FUZZ_SECONDS", "40")
    with serve(app) as base:
        cmd = [str(ST if ST.exists() else shutil.which("st")), "run", f"{base}/api/v1/openapi.json",
               "--url", f"{base}/api/v1", "-H", f"Authorization: Bearer {token}", "--checks", CHECKS,
               "--max-time", seconds, "--workers", "1", "--no-color", "--generation-database", "none",
               "--request-timeout", "30", "--phases", "examples,coverage,fuzzing,stateful",
               "--report", "junit", "--report-dir", str(tmp_path)]
        # A fixed seed keeps `make test` repeatable; set another (README) to explore further.
        cmd += ["--seed", os.environ.get("CALLCENTER_FUZZ_SEED", "20261130")]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=int(seconds) * 4 + 300,
                                env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    report = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, report
