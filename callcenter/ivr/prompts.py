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
# Numbers read out as one word each ("17" is "tizenhét", "δεκαεπτά"): hours, minutes, and 0-9 for
# ticket numbers read digit by digit. Larger numbers are read digit by digit.
SPOKEN_NUMBERS = range(100)
# Sounds that are not words: the tone before a voice message and a short silence. Asterisk's own
# sounds (beep, silence/1, digits/) are English-only or absent: the hotline plays none of them.
TONES = {"beep": ["synth", "0.25", "sine", "1000", "vol", "0.5"], "silence": ["trim", "0.0", "0.5"]}


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


def number_key(n: int) -> str:
    """The file (per language, without extension) that says the number `n` (0-99)."""
    return f"digits/{n}"


def spoken_number_keys(value: str, as_number: bool) -> list[str]:
    """The files that read `value` out: digit by digit, or as one number when it has a file of its own."""
    digits = "".join(c for c in value if c.isdigit())
    if not digits:
        return []
    if as_number and int(digits) in SPOKEN_NUMBERS:
        return [number_key(int(digits))]
    return [number_key(int(c)) for c in digits]


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
    texts += [(lang, number_key(n), str(n)) for lang in flow.languages for n in SPOKEN_NUMBERS]
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
        for name, effect in TONES.items():
            target = out_dir / f"{name}.wav"
            if target.exists() and not force:
                continue
            subprocess.run([sox, "-n", "-r", "8000", "-c", "1", "-b", "16", "-e", "signed-integer", str(target),
                            *effect], check=True, capture_output=True, timeout=60)
            written.append(target)
    manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    return BuildResult(written, unchanged)
