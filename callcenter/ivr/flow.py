"""Load and validate an IVR flow from ivr_flows/ (data only: menu, ticket fields, prompts)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..config import PROJECT_ROOT
from ..models import Category, Priority

FLOWS_DIR = PROJECT_ROOT / "ivr_flows"

# Actions the engine implements; a flow may only map digits to these.
ACTIONS = {"critical_fault", "leave_message", "ticket_status", "complaint", "permission_change", "sales"}
# The digits printed in customers' contracts (DESIGN, issue 3): the flow must keep them.
CONTRACT_MENU = {"1": "critical_fault", "2": "leave_message", "3": "ticket_status", "4": "complaint",
                 "5": "permission_change", "0": "sales"}
REQUIRED_PROMPTS = {
    "recording_notice", "welcome", "menu", "invalid_choice", "no_input_goodbye", "critical_ticket_opened",
    "queue_connecting", "queue_hold", "oncall_alerted", "standby_alerted", "leave_message", "complaint_message",
    "message_thanks", "message_added", "no_message", "ticket_number_prompt", "ticket_status_open",
    "ticket_status_waiting", "ticket_status_resolved", "ticket_status_closed", "ticket_not_found", "goodbye",
    "permission_refused", "sales_transfer", "unknown_caller", "closed_hours", "emergency",
}
# The agent menu, heard by staff calling from their registered phone (callcenter.agents).
AGENT_ACTIONS = {"agent_login", "agent_logout"}
AGENT_PROMPTS = {"agent_menu", "agent_logged_in", "agent_logged_out"}
REQUIRED_TICKETS = {"critical_fault", "leave_message", "complaint", "after_hours_message"}
PLACEHOLDER = re.compile(r"\{(\w+)(?::(digits|number))?\}")
DEFAULT_SETTINGS = {
    "menu_timeout_seconds": 6, "menu_attempts": 3, "ticket_number_timeout_seconds": 10,
    "ticket_number_max_digits": 8, "message_max_seconds": 180, "message_silence_seconds": 5,
    "dial_timeout_seconds": 30, "queue_hold_pause_seconds": 20,
}


class FlowError(ValueError):
    """The flow file is not usable; the message says which file and what is wrong."""


@dataclass(frozen=True)
class TicketSpec:
    category: str
    priority: str
    subject: str
    # The subject in the caller's language (subject_hu, subject_el in the flow file): the ticket, its mails
    # and the customer's portal read it in the language the caller chose; `subject` when none is given.
    subjects: dict[str, str] = field(default_factory=dict)

    def subject_in(self, lang: str | None) -> str:
        return self.subjects.get(lang or "", self.subject)


@dataclass(frozen=True)
class Segment:
    """Part of a prompt: static text (``key`` names its audio file) or a value read out."""

    kind: str  # "text" | "digits" | "number"
    text: str  # the text, or the placeholder name
    key: str = ""


@dataclass
class Flow:
    name: str
    languages: list[str]
    settings: dict[str, int]
    menu: dict[str, str]
    tickets: dict[str, TicketSpec]
    prompts: dict[str, dict[str, str]]
    path: Path | None = None
    agent_menu: dict[str, str] = field(default_factory=dict)
    _segments: dict[tuple[str, str], list[Segment]] = field(default_factory=dict, repr=False)

    def language(self, wanted: str | None, default: str) -> str:
        if wanted in self.languages:
            return wanted  # type: ignore[return-value]
        return default if default in self.languages else self.languages[-1]

    def segments(self, prompt: str, lang: str) -> list[Segment]:
        """The prompt split at its placeholders; static parts are keyed ``prompt`` or ``prompt-N``."""
        cached = self._segments.get((prompt, lang))
        if cached is not None:
            return cached
        text = self.prompts[prompt][lang]
        out: list[Segment] = []
        pos = 0
        parts = 0
        for match in PLACEHOLDER.finditer(text):
            static = text[pos:match.start()].strip()
            if static:
                out.append(Segment("text", static, f"{prompt}-{parts}"))
                parts += 1
            out.append(Segment(match.group(2) or "number", match.group(1)))
            pos = match.end()
        tail = text[pos:].strip()
        if tail:
            out.append(Segment("text", tail, f"{prompt}-{parts}"))
            parts += 1
        if parts == 1 and len(out) == 1:
            out = [Segment("text", out[0].text, prompt)]
        self._segments[(prompt, lang)] = out
        return out

    def audio_texts(self) -> list[tuple[str, str, str]]:
        """(language, file key, text) of every static prompt part: what `prompts build` synthesises."""
        out = []
        for prompt in sorted(self.prompts):
            for lang in self.languages:
                out.extend((lang, s.key, s.text) for s in self.segments(prompt, lang) if s.kind == "text")
        return out


def parse_flow(data: dict, path: Path | None = None) -> Flow:
    where = str(path) if path else "flow"
    problems: list[str] = []
    languages = data.get("languages") or []
    if not languages or not all(isinstance(x, str) for x in languages):
        problems.append("languages must be a non-empty list of language codes")
    settings = dict(DEFAULT_SETTINGS)
    for key, value in (data.get("settings") or {}).items():
        if key not in DEFAULT_SETTINGS:
            problems.append(f"unknown setting {key!r}")
        elif not isinstance(value, int) or value <= 0:
            problems.append(f"setting {key!r} must be a positive integer")
        else:
            settings[key] = value
    menu = {str(k): v for k, v in (data.get("menu") or {}).items()}
    for digit, action in menu.items():
        if not re.fullmatch(r"[0-9*#]", digit):
            problems.append(f"menu key {digit!r} is not a single DTMF digit")
        if action not in ACTIONS:
            problems.append(f"menu {digit}: unknown action {action!r} (known: {', '.join(sorted(ACTIONS))})")
    for digit, action in CONTRACT_MENU.items():
        if menu.get(digit) != action:
            problems.append(f"menu {digit} must be {action!r} (the digits are printed in customers' contracts)")
    agent_menu = {str(k): v for k, v in (data.get("agent_menu") or {}).items()}
    for digit, action in agent_menu.items():
        if not re.fullmatch(r"[0-9*#]", digit):
            problems.append(f"agent_menu key {digit!r} is not a single DTMF digit")
        if action not in AGENT_ACTIONS:
            known = ", ".join(sorted(AGENT_ACTIONS))
            problems.append(f"agent_menu {digit}: unknown action {action!r} (known: {known})")
    if agent_menu:
        for name in sorted(AGENT_PROMPTS - set(data.get("prompts") or {})):
            problems.append(f"prompt {name!r} is missing (the agent menu needs it)")
    tickets: dict[str, TicketSpec] = {}
    for name, spec in (data.get("tickets") or {}).items():
        category, priority = spec.get("category"), spec.get("priority", Priority.NORMAL)
        if category not in {c.value for c in Category}:
            problems.append(f"tickets.{name}: unknown category {category!r}")
        if priority not in {p.value for p in Priority}:
            problems.append(f"tickets.{name}: unknown priority {priority!r}")
        if not spec.get("subject"):
            problems.append(f"tickets.{name}: subject is required")
        subjects = {key.removeprefix("subject_"): str(text) for key, text in spec.items()
                    if key.startswith("subject_") and text}
        tickets[name] = TicketSpec(category, priority, spec.get("subject", ""), subjects)
    for name in sorted(REQUIRED_TICKETS - set(tickets)):
        problems.append(f"tickets.{name} is missing")
    prompts = data.get("prompts") or {}
    for name in sorted(REQUIRED_PROMPTS - set(prompts)):
        problems.append(f"prompt {name!r} is missing")
    for name, texts in prompts.items():
        for lang in languages:
            if not (texts.get(lang) or "").strip():
                problems.append(f"prompt {name!r} has no {lang} text")
        placeholders = {lang: sorted(PLACEHOLDER.findall(texts.get(lang, ""))) for lang in languages}
        if len({tuple(v) for v in placeholders.values()}) > 1:
            problems.append(f"prompt {name!r}: the languages use different placeholders {placeholders}")
    if problems:
        raise FlowError(f"{where}: " + "; ".join(problems))
    return Flow(data.get("name", path.stem if path else "flow"), list(languages), settings, menu, tickets,
                {k: dict(v) for k, v in prompts.items()}, path, agent_menu)


def load_flow_file(path: str | Path) -> Flow:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise FlowError(f"{path}: {exc}") from exc
    return parse_flow(data, path)


@lru_cache(maxsize=8)
def load_flow(name: str = "hotline") -> Flow:
    return load_flow_file(FLOWS_DIR / f"{name}.toml")
