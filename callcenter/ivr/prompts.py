"""`callcenter prompts build`: Asterisk audio prompts from the flow's texts, so both channels say the same words.

espeak-ng synthesises each static prompt part; sox turns it into the 8 kHz mono 16-bit WAV that
Asterisk plays without transcoding. A manifest of text hashes makes a rebuild touch only changed texts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .flow import Flow

ESPEAK_VOICES = {"hu": "hu", "el": "el", "en": "en-gb"}
MANIFEST = "manifest.json"


class PromptToolMissing(RuntimeError):
    pass


@dataclass
class BuildResult:
    written: list[Path]
    unchanged: int


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PromptToolMissing(f"{name} is not installed (Debian: apt-get install {name})")
    return path


def company_prompt_key(company_id: int) -> str:
    """The file (per language, without extension) that says a customer's name: the agent's whisper
    on Asterisk plays it, since a prompt cannot be synthesised in the middle of a call."""
    return f"company-{company_id}"


def build_prompts(flow: Flow, out_dir: Path, *, force: bool = False,
                  companies: dict[int, str] | None = None) -> BuildResult:
    """Synthesise the flow's prompts, and each company's name (`companies`: id -> name) in every
    language, into `out_dir/<lang>/<key>.wav`."""
    espeak, sox = _tool("espeak-ng"), _tool("sox")
    texts = list(flow.audio_texts())
    for company_id, name in sorted((companies or {}).items()):
        texts += [(lang, company_prompt_key(company_id), name) for lang in flow.languages]
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest_path = out_dir / MANIFEST
    manifest: dict[str, str] = {}
    if manifest_path.exists() and not force:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    written: list[Path] = []
    unchanged = 0
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        for lang, key, text in texts:
            target = out_dir / lang / f"{key}.wav"
            digest = hashlib.sha256(f"{ESPEAK_VOICES.get(lang, lang)}\0{text}".encode()).hexdigest()
            name = f"{lang}/{key}"
            if manifest.get(name) == digest and target.exists():
                unchanged += 1
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            subprocess.run([espeak, "-v", ESPEAK_VOICES.get(lang, lang), "-s", "150", "-w", str(raw), text],
                           check=True, capture_output=True, timeout=60)
            subprocess.run([sox, str(raw), "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target)],
                           check=True, capture_output=True, timeout=60)
            manifest[name] = digest
            written.append(target)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return BuildResult(written, unchanged)
