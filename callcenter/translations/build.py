"""Rebuild the hu/el catalogs: messages.pot + catalog_source.py -> messages.po -> messages.mo.

Run `python -m callcenter.translations.build` after `pybabel extract` (see `make translations`).
The compiled .mo files are committed so a fresh checkout runs without a build step.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

from . import catalog_console, catalog_labels, catalog_sweep
from .catalog_source import EL, HU

HERE = Path(__file__).resolve().parent


# Fixed dates in the headers: the same sources give byte-identical .pot/.po/.mo files, so two branches that
# rebuilt the catalogs from the same words do not conflict on a timestamp.
STAMP = datetime(2026, 1, 1, tzinfo=UTC)


def build() -> list[str]:
    missing: list[str] = []
    with open(HERE / "messages.pot", "rb") as fh:
        template = read_po(fh)
    template.creation_date = STAMP
    with open(HERE / "messages.pot", "wb") as fh:
        write_po(fh, template, width=120, omit_header=False)
    for lang, table in (("hu", {**HU, **catalog_console.HU, **catalog_sweep.HU, **catalog_labels.HU}),
                        ("el", {**EL, **catalog_console.EL, **catalog_sweep.EL, **catalog_labels.EL})):
        with open(HERE / "messages.pot", "rb") as fh:
            catalog = read_po(fh, locale=lang)
        catalog.creation_date = catalog.revision_date = STAMP
        for message in catalog:
            if message.id:
                # A message with a context (pgettext) is keyed (context, msgid) in the tables.
                message.string = table.get((message.context, message.id) if message.context else message.id, "")
                if not message.string:
                    missing.append(f"{lang}: {message.id}")
        out = HERE / lang / "LC_MESSAGES"
        out.mkdir(parents=True, exist_ok=True)
        with open(out / "messages.po", "wb") as fh:
            write_po(fh, catalog, width=120)
        with open(out / "messages.mo", "wb") as fh:
            write_mo(fh, catalog)
    return missing


if __name__ == "__main__":
    gaps = build()
    for gap in gaps:
        print("untranslated:", gap, file=sys.stderr)
