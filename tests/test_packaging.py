"""A regular (non-editable) install carries what the code reads at run time.

Editable installs and checkouts read ``data_dictionary.csv`` from the repository root; a
``pip install .`` on a server has no repository, so the wheel must bring the dictionary,
the event mapping, the page templates and the migrations, and ``forms`` must find them.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(out), str(ROOT)], check=True, capture_output=True)
    (built,) = out.glob("outsider_cohort-*.whl")
    return built


def test_the_wheel_carries_dictionary_templates_and_migrations(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    data = "outsider_cohort-0.1.0.data/data/share/outsider-cohort/"
    assert data + "data_dictionary.csv" in names
    assert data + "event_mapping.csv" in names
    assert "api/templates/questionnaire.html" in names
    assert "api/static/branching.js" in names
    assert any(n.startswith("cohort/migrations/versions/") and n.endswith("0001_initial_schema.py")
               for n in names)


def test_an_installed_copy_loads_the_study_dictionary(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = Path(subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True).stdout.strip())
    # The project's dependencies come from this test's environment, after the installed copy.
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                    "--no-deps", "--quiet", str(wheel)], check=True, capture_output=True)
    probe = ("import forms, forms.loader as l; d = forms.default_dictionary(); "
             "print(l.dictionary_paths()[0]); print(len(d.fields), sorted(d.forms))")
    result = subprocess.run([python, "-c", probe], cwd=tmp_path, check=True,
                            capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    path, summary = result.stdout.strip().splitlines()
    assert Path(path) == env_dir / "share" / "outsider-cohort" / "data_dictionary.csv"
    assert "questionnaire" in summary and "aerli_session" in summary
