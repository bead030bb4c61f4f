"""The layers are checked by a tool, not claimed: import-linter's contracts (pyproject).

``forms`` imports nothing of ours; the domain imports neither ``analysis``, ``api`` nor the
command line; ``analysis`` neither ``api`` nor the command line; no circles between the
modules of a package. The second test proves the contracts can fail.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(cwd: Path, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = [str(LINT), "--no-cache"] + (["--config", str(config)] if config else [])
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False,  # noqa: S603
                          timeout=300)


def test_the_contracts_hold_and_none_has_exceptions() -> None:
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    assert len(contracts) == 6
    assert not any("ignore_imports" in contract for contract in contracts)


def test_a_circle_and_a_forbidden_import_break_the_contracts(tmp_path: Path) -> None:
    package = tmp_path / "layered"
    (package / "low").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "low" / "__init__.py").write_text("")
    (package / "low" / "a.py").write_text("from layered.low import b\n")
    (package / "low" / "b.py").write_text("import layered.high\nfrom layered.low import a\n")
    (package / "high.py").write_text("")
    config = tmp_path / "contracts.toml"
    config.write_text(textwrap.dedent("""
        [tool.importlinter]
        root_packages = ["layered"]

        [[tool.importlinter.contracts]]
        name = "low does not use high"
        type = "forbidden"
        source_modules = ["layered.low"]
        forbidden_modules = ["layered.high"]

        [[tool.importlinter.contracts]]
        name = "no circles"
        type = "acyclic_siblings"
        ancestors = ["layered"]
    """))
    done = _lint(tmp_path, config)
    assert done.returncode != 0
    assert "2 broken" in done.stdout
