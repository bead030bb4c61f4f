"""Compile the translation catalogues (``.po`` -> ``.mo``) when the package is built.

Everything else about the package is in ``pyproject.toml``; this file only hooks the
compilation into ``build_py`` so that a wheel or a ``pip install .`` carries the compiled
catalogues. A checkout that was never built compiles them in memory (``forms.i18n``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        sys.path.insert(0, str(Path(__file__).parent))
        from forms.i18n.catalogues import compile_all

        target = None if getattr(self, "editable_mode", False) else Path(self.build_lib)
        for path in compile_all(target):
            self.announce(f"compiled {path}", level=2)


setup(cmdclass={"build_py": BuildWithCatalogues})
