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
    assert "analysis/templates/report.html" in names  # the analysis report's page
    assert "api/static/branching.js" in names
    assert any(n.startswith("cohort/migrations/versions/") and n.endswith("0001_initial_schema.py")
               for n in names)
    # The French catalogues, and their .mo compiled by setup.py while the wheel was built.
    for domain in ("messages", "pages", "forms", "excel", "report", "cli"):
        assert f"forms/i18n/locales/fr/LC_MESSAGES/{domain}.po" in names
        assert f"forms/i18n/locales/fr/LC_MESSAGES/{domain}.mo" in names


@pytest.mark.parametrize("where", ["environment", "user"])
def test_an_installed_copy_loads_the_study_dictionary(wheel: Path, tmp_path: Path,
                                                      where: str) -> None:
    """``pip install`` into an environment, or ``pip install --user`` (data files then go
    under the user's base, not the environment's prefix)."""
    env_dir = tmp_path / "venv"
    user_base = tmp_path / "userbase"
    venv.create(env_dir, with_pip=False, system_site_packages=where == "user")
    python = env_dir / "bin" / "python"
    env = {"PATH": "/usr/bin:/bin", "PYTHONUSERBASE": str(user_base)}
    scheme = "posix_user" if where == "user" else "venv"
    site = Path(subprocess.run(
        [python, "-c", f"import sysconfig; print(sysconfig.get_path('purelib', '{scheme}'))"],
        check=True, capture_output=True, text=True, env=env).stdout.strip())
    site.mkdir(parents=True, exist_ok=True)
    # The project's dependencies come from this test's environment, after the installed copy.
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
               "--quiet", *(["--user"] if where == "user" else []), str(wheel)]
    subprocess.run(install, check=True, capture_output=True, env={**env, "PIP_USER": "0"}
                   if where == "environment" else {**env})
    probe = ("import forms, forms.loader as l; d = forms.default_dictionary(); "
             "print(l.dictionary_paths()[0]); print(len(d.fields), sorted(d.forms)); "
             "from cohort.messages import render; "
             "print(render('rule.group.crossing', {}, 'fr')); "
             "print(d.in_language('fr').forms['enrolment'].label)")
    result = subprocess.run([python, "-c", probe], cwd=tmp_path, check=True,
                            capture_output=True, text=True, env=env)
    path, summary, rule, form = result.stdout.strip().splitlines()
    base = user_base if where == "user" else env_dir
    assert Path(path) == base / "share" / "outsider-cohort" / "data_dictionary.csv"
    assert "questionnaire" in summary and "aerli_session" in summary
    # The installed copy speaks French: compiled catalogue and questionnaire translations.
    from cohort.messages import CATALOGUE
    from forms import default_dictionary

    assert rule and rule != CATALOGUE["rule.group.crossing"]
    assert form and form != default_dictionary().forms["enrolment"].label
