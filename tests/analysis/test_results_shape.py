"""One result shape for every analysis (lifelines-style): ``summary`` (DataFrame), ``notes``
(list of str) and a text rendering, so the report loops over results.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil

import numpy as np
import pandas as pd

import analysis
from analysis.results import Result, ResultBase, named
from analysis.retention import fit_km, logrank


def _result_classes() -> list[type]:
    found = []
    for info in pkgutil.iter_modules(analysis.__path__):
        module = importlib.import_module(f"analysis.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == module.__name__ and cls.__name__.endswith(
                    ("Result", "Results", "Fit", "Model", "Table1")):
                found.append(cls)
    return found


def test_every_result_class_has_the_shared_shape() -> None:
    classes = _result_classes()
    names = {c.__name__ for c in classes}
    assert {"GEEResult", "OutcomeModel", "WeightsResult", "KMResult", "TestResult",
            "CoxFit", "DiscreteTimeResult", "PooledResult", "RetentionResults",
            "OutcomeResults", "Table1", "ClusteredFit"} <= names
    for cls in classes:
        if cls.__name__ in ("ExportResult", "ArchiveResult", "Result"):
            continue  # files written, not estimates; the protocol itself
        assert issubclass(cls, ResultBase), cls
        fields = {f.name: f for f in dataclasses.fields(cls)}
        assert "notes" in fields, cls
        assert "summary" in fields or isinstance(getattr(cls, "summary", None), property), cls


def _survival() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 60
    return pd.DataFrame({"t": rng.exponential(10, n).round(1) + 0.1,
                         "e": rng.integers(0, 2, n),
                         "g": np.where(np.arange(n) % 2 == 0, "intervention", "comparison")})


def test_real_results_render_as_text_with_their_notes() -> None:
    frame = _survival()
    km = fit_km(frame, "t", "e", by="g", times=(5.0,))
    test = logrank(frame, "t", "e", "g")
    test.notes.append("few events: read the p-value with care")
    for result in (km, test):
        assert isinstance(result, Result)
        assert isinstance(result.summary, pd.DataFrame) and not result.summary.empty
    text = test.to_text()
    assert text.startswith("TestResult") and "note: few events" in text
    assert str(km) == km.to_text() and "intervention" in str(km)
    assert [name for name, _ in named({"km": km, "none": None, "frame": frame,
                                       "test": test})] == ["km", "test"]
