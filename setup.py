"""Compile the translation catalogues (``.po`` -> ``.mo``) when the package is built.

Everything else about the package is in ``pyproject.toml``; this file only hooks the
compilation into ``build_py`` so that a wheel or a ``pip install .`` carries the compiled
catalogues. A checkout that was never built compiles them in memory (``forms.i18n``).

The build runs in an environment holding setuptools and Babel only, so ``forms/i18n/mo.py``
is loaded by its path: importing the ``forms`` package would pull in its dependencies.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithCatalogues(build_py):
    def run(self) -> None:
        super().run()
        spec = importlib.util.spec_from_file_location("_cohort_mo", HERE / "forms/i18n/mo.py")
        if spec is None or spec.loader is None:
            raise RuntimeError("forms/i18n/mo.py is missing from the source tree")
        mo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mo)
        target = None if getattr(self, "editable_mode", False) else Path(self.build_lib)
        for path in mo.compile_tree(HERE / "forms/i18n/locales", HERE, target):
            self.announce(f"compiled {path}", level=2)


setup(cmdclass={"build_py": BuildWithCatalogues})
