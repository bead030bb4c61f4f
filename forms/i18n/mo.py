"""Compiling the catalogues (``.po`` -> ``.mo``) with Babel and nothing else.

``setup.py`` loads this file on its own, by path, while a wheel is built: the build's
isolated environment holds setuptools and Babel, not the project's dependencies, so this
module must not import the ``forms`` package (whose ``__init__`` pulls in the rest).
"""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po


def mo_bytes(po: Path) -> bytes:
    """``po`` compiled; fuzzy entries are left out, so a doubtful translation shows the
    English rather than a wrong sentence."""
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=po.parent.parent.name, domain=po.stem)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def compile_tree(locales: Path, root: Path, target: Path | None = None) -> list[Path]:
    """Every ``locales/<lang>/LC_MESSAGES/<domain>.po`` compiled beside itself, or under
    ``target`` at the same place relative to ``root`` (a build directory's layout)."""
    written: list[Path] = []
    for po in sorted(locales.glob("*/LC_MESSAGES/*.po")):
        out = po.with_suffix(".mo") if target is None else (
            target / po.relative_to(root).with_suffix(".mo"))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(mo_bytes(po))
        written.append(out)
    return written
