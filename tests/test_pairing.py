"""Every notebook has a plain-text twin (jupytext percent format) with the same cells, so that a
change of prose or code shows in a diff; ``make notebooks`` re-syncs them."""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
import pytest

from bsnn_lib.runner import NOTEBOOK_DIR, NOTEBOOKS


def _cells(book) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.cell_type, c.source.strip(), tuple(c.metadata.get("tags", []))) for c in book.cells]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_and_its_text_twin_hold_the_same_cells(name: str) -> None:
    ipynb, py = NOTEBOOK_DIR / f"{name}.ipynb", NOTEBOOK_DIR / f"{name}.py"
    assert py.is_file(), f"{py} is missing: run `make notebooks`"
    book = nbformat.read(ipynb, as_version=4)
    twin = jupytext.read(py)
    assert book.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"
    assert _cells(book) == _cells(twin), f"{name}: .ipynb and .py differ; run `make notebooks`"
    params = [c for c in book.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, "one tagged parameters cell"
    ids = [c.get("id") for c in book.cells]
    assert len(set(ids)) == len(ids) and all(ids), "stable, unique cell ids"


def test_no_notebook_has_stored_outputs() -> None:
    for path in Path(NOTEBOOK_DIR).glob("*.ipynb"):
        book = nbformat.read(path, as_version=4)
        assert not any(c.get("outputs") for c in book.cells if c.cell_type == "code"), path
