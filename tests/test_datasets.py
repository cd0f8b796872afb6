"""Dataset registry and loaders: shapes and types as the MANIFEST says, sha256 checks, download path."""

from __future__ import annotations

import gzip
import os
import shutil
import stat

import numpy as np
import pytest

from conftest import DATA_DIR, needs_data
from vaeac_bench.datasets import GROUPS, SPECS, ChecksumError, DataNotFoundError, get_spec, load, resolve
from vaeac_bench.datasets.loaders import frame_to_table, read_canonical, read_original
from vaeac_bench.datasets.sources import fetch, sha256_of

# rows, columns after dropping non-features (target included), categorical columns, truly-missing cells
EXPECTED = {
    "boston": (506, 14, 1, 0), "breast": (569, 31, 1, 0), "concrete": (1030, 9, 0, 0), "diabetes": (442, 11, 1, 0),
    "digits": (1797, 65, 1, 0), "glass": (214, 10, 1, 0), "iris": (150, 5, 1, 0), "mushroom": (8124, 22, 22, 2480),
    "orthopedic": (310, 7, 1, 0), "phishing": (1353, 10, 10, 0), "wallrobot": (5456, 25, 1, 0),
    "whitewine": (4898, 12, 0, 0), "yeast": (1484, 9, 1, 0), "zoo": (101, 17, 17, 0),
}


def test_groups():
    assert resolve("uci") == list(GROUPS["uci"]) and len(GROUPS["uci"]) == 14
    assert resolve("sklearn") == ["breast", "diabetes", "digits", "iris"]
    assert resolve("Yeast, zoo,yeast") == ["yeast", "zoo"]
    assert all(SPECS[n].embedded for n in GROUPS["sklearn"])


def test_unknown_dataset_is_refused_with_the_known_names():
    with pytest.raises(ValueError, match="unknown dataset 'nope'.*yeast"):
        resolve("nope")


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_load_shapes_and_types(name):
    if not SPECS[name].embedded and (DATA_DIR is None or not DATA_DIR.is_dir()):
        pytest.skip("data folder not available")
    t = load(name)
    rows, cols, n_cat, n_missing = EXPECTED[name]
    assert t.data.shape == (rows, cols)
    assert int(t.schema.categorical_mask.sum()) == n_cat
    assert int(np.isnan(t.data).sum()) == n_missing
    assert t.target == get_spec(name).target and t.schema.names[-1] == t.target
    for j, f in enumerate(t.schema):
        col = t.data[~np.isnan(t.data[:, j]), j]
        if f.is_categorical:
            assert set(np.unique(col)) <= set(range(f.n_categories))
    for dropped in get_spec(name).drop:
        assert dropped not in t.schema.names


@needs_data
def test_mushroom_question_marks_are_truly_missing_and_veil_type_is_dropped():
    t = load("mushroom")
    j = t.schema.index("stalk-root")
    assert np.isnan(t.data[:, j]).sum() == 2480
    assert "veil-type" not in t.schema.names and t.schema.names[-1] == "class"


@needs_data
@pytest.mark.parametrize("name", [n for n, s in SPECS.items() if s.download is not None])
def test_original_file_parses_to_the_same_table_as_the_canonical_csv(name):
    """The download path (original format) and the data-dir path (canonical CSV) agree cell for cell."""
    spec = SPECS[name]
    originals = list((DATA_DIR / spec.path).parent.glob(f"original/{spec.download.filename.split('.')[0]}*"))
    canonical = frame_to_table(read_canonical(DATA_DIR / spec.path, spec), spec)
    if not originals:  # zoo: the canonical file is the fetched file, gzipped
        orig_path = DATA_DIR / spec.path
    else:
        orig_path = originals[0]
    raw = gzip.decompress(orig_path.read_bytes())
    import hashlib

    assert hashlib.sha256(raw).hexdigest() == spec.download.sha256
    from_original = frame_to_table(read_original(orig_path, spec.download.fmt, spec), spec)
    np.testing.assert_allclose(from_original.data, canonical.data, equal_nan=True, rtol=0, atol=1e-12)
    assert from_original.schema == canonical.schema


@needs_data
def test_wrong_checksum_is_refused_naming_the_file(tmp_path):
    spec = get_spec("yeast")
    bad = tmp_path / spec.path
    bad.parent.mkdir(parents=True)
    shutil.copy(DATA_DIR / spec.path, bad)
    with open(bad, "ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(ChecksumError, match=r"yeast\.csv\.gz: sha256 is"):
        load("yeast", data_dir=tmp_path)


def test_missing_file_error_says_where_it_looked_and_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(DataNotFoundError) as info:
        load("glass", data_dir=tmp_path / "nowhere")
    msg = str(info.value)
    assert str(tmp_path / "nowhere" / "glass" / "glass.csv.gz") in msg
    assert "--download" in msg and "VAEAC_BENCH_DATA" in msg


def test_embedded_datasets_need_no_data_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert load("iris").data.shape == (150, 5)


@needs_data
def test_download_is_verified_before_it_lands_and_is_then_loadable(tmp_path, monkeypatch):
    """A fetch from a (local) URL lands in the cache only with the right sha256, then loads offline."""
    monkeypatch.delenv("VAEAC_BENCH_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    spec = get_spec("glass")
    src = tmp_path / "glass.data"
    src.write_bytes(gzip.decompress((DATA_DIR / "glass/original/glass.data.gz").read_bytes()))
    dest = tmp_path / "cache" / "vaeac-bench" / "glass" / "original" / "glass.data"
    with pytest.raises(ChecksumError, match="refused"):
        fetch(src.as_uri(), dest, "0" * 64)
    assert not dest.exists() and not list(dest.parent.glob("*.part"))
    fetch(src.as_uri(), dest, spec.download.sha256)
    assert sha256_of(dest) == spec.download.sha256
    t = load("glass")  # found in the cache as an original file, parsed with the original format
    assert t.data.shape == (214, 10)


@pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX file modes")
def test_download_gets_the_normal_file_mode_not_mkstemps_0600(tmp_path):
    """A downloaded file is readable as any file the user writes (umask applied), not private to the writer."""
    src = tmp_path / "blob.bin"
    src.write_bytes(b"vaeac" * 100)
    old = os.umask(0o022)
    try:
        dest = fetch(src.as_uri(), tmp_path / "cache" / "blob.bin", sha256_of(src))
    finally:
        os.umask(old)
    assert stat.S_IMODE(dest.stat().st_mode) == 0o644


def test_bad_level_in_a_categorical_column_names_the_column(tmp_path):
    import pandas as pd

    spec = get_spec("iris")
    df = pd.DataFrame({"a": ["1.0", "2.0"], "target": ["setosa", "tulip"]})
    with pytest.raises(ValueError, match="column 'target'.*tulip"):
        frame_to_table(df, spec)
    df = pd.DataFrame({"a": ["1.0", "x"], "target": ["setosa", "setosa"]})
    with pytest.raises(ValueError, match="real column 'a'.*'x'"):
        frame_to_table(df, spec)


def test_every_spec_declares_a_checksum_or_is_embedded():
    for spec in SPECS.values():
        assert spec.embedded or (spec.sha256 and len(spec.sha256) == 64 and spec.path), spec.name
        if spec.download:
            assert len(spec.download.sha256) == 64 and spec.download.url.startswith("https://")


