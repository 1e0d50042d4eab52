"""The README's Python example runs as written (on the shipped MNIST weights)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_the_readme_python_example_runs_as_written(capsys, monkeypatch, tmp_path):
    from bsnn_lib import pretrained

    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "data"))  # no local checkpoint: the shipped one
    monkeypatch.delenv("BSNN_PRETRAINED", raising=False)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 1
    if not any(
        n.startswith("mnist-vgg-small-") for n in (pretrained.PRETRAINED_DIR / "SHA256SUMS").read_text().split()
    ):
        pytest.skip("no shipped MNIST weights: the example would train for minutes")
    exec(compile(blocks[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    m = re.search(r"first answer at t=(\d+); ANN ([0-9.]+); SNN at T=128 ([0-9.]+)", out)
    assert m, out
    assert float(m.group(2)) > 0.98 and abs(float(m.group(3)) - float(m.group(2))) < 0.01
