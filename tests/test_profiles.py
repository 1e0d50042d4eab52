"""Profiles are parameter files: every shipped one parses, and the paper profile dry-runs on tiny data."""

import dataclasses

import pytest

from bsnn_lib.grid import run_grid
from bsnn_lib.methods import MethodConfigError
from bsnn_lib.profiles import ProfileError, list_profiles, load_profile


@pytest.mark.parametrize("name", list_profiles())
def test_every_shipped_profile_parses_and_has_cells(name):
    profile = load_profile(name)
    cells = list(profile.cells())
    assert cells and all(c.T >= 1 for c in cells)
    assert {n["dataset"] for n in profile.nets} <= {
        "mnist",
        "fashion-mnist",
        "cifar10",
        "cifar100",
        "imagenet",
        "digits",
    }


def test_the_shipped_profiles_are_the_documented_ones():
    assert {"test", "quick", "cpu-full", "paper"} <= set(list_profiles())
    paper = load_profile("paper")
    archs = {(n["dataset"], n["arch"]) for n in paper.nets}
    assert {("cifar10", "vgg16"), ("cifar10", "resnet20"), ("cifar100", "vgg16"), ("imagenet", "resnet34")} <= archs
    assert paper.device == "cuda"


def test_paper_profile_dry_run_on_tiny_data(tmp_path, monkeypatch):
    """The paper profile's whole method grid, run end to end with its nets swapped for the
    digits test nets and a short T: what a GPU run would execute, minus the scale."""
    monkeypatch.setenv("BSNN_DATA_ROOT", str(tmp_path / "data"))
    paper = load_profile("paper")
    tiny = dataclasses.replace(
        paper,
        device="cpu",
        T=24,
        n_test=16,
        calib_size=64,
        batch_size=16,
        nets=[{"dataset": "digits", "arch": "vgg-tiny"}, {"dataset": "digits", "arch": "resnet-tiny"}],
        methods=[dict(m, archs=["resnet-tiny"]) if "archs" in m else m for m in paper.methods],
    )
    tables = run_grid(tiny, out_dir=tmp_path / "out", progress=False)
    lat = tables["latency"]
    assert len(lat) == len(list(tiny.cells()))
    assert set(lat.method) == {m["method"] for m in paper.methods}
    assert (tmp_path / "out" / "accuracy_vs_t.csv").is_file()


def test_a_malformed_profile_names_the_problem(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nnets:\n  - {dataset: mnist}\n")
    with pytest.raises(ProfileError, match=r"nets\[0\] needs 'dataset' and 'arch'"):
        load_profile(bad)
    bad.write_text("name: bad\nnets: [{dataset: mnist, arch: vgg-small}]\nmethods: [{method: bsnn, K: 99}]\n")
    with pytest.raises(MethodConfigError, match=r"K=99: must be in \[1, 16\]"):
        load_profile(bad)
    with pytest.raises(ProfileError, match="known profiles"):
        load_profile("no-such-profile")
