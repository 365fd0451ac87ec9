"""The talk's PCA walk-through on songdata.csv: figures, membership, loading errors, plot."""

from __future__ import annotations

import numpy as np
import pytest

from faceatlas.exceptions import InputError
from faceatlas.tabular import belongs, load_table, pca_walkthrough, plot_walkthrough


@pytest.fixture(scope="module")
def songs(shared_data):
    return load_table(shared_data / "songs" / "songdata.csv", ["energy", "loudness"])


@pytest.fixture(scope="module")
def walk(songs):
    return pca_walkthrough(songs)


def test_load_table_reads_bom_file(shared_data):
    table = load_table(shared_data / "songs" / "songdata.csv")
    assert table.values.shape == (49, 10)
    assert table.columns[0] == "danceability"  # not "\ufeffname" nor "name"
    assert table.skipped == ("name",)
    assert table.label_column == "name"
    assert table.labels[0] == "Love The Way You Lie"


def test_song_figures(walk):
    np.testing.assert_allclose(walk.singular_values, [1.46530621, 0.09094177], atol=1e-6)
    # The talk's axes (numpy's SVD); each component's sign is arbitrary, so align first.
    talk = np.array([[-0.0616217, -0.99809958], [0.99809958, -0.0616217]])
    signs = np.sign(np.sum(walk.components * talk, axis=1))
    np.testing.assert_allclose(walk.components * signs[:, None], talk, atol=1e-6)
    p = walk.projections[0] * signs
    assert walk.labels[0] == "Love The Way You Lie"
    np.testing.assert_allclose(p, [-0.21522419, 0.20664043], atol=1e-6)
    assert round(p[0], 3) == -0.215 and round(p[1], 3) == 0.207
    np.testing.assert_allclose(walk.explained_variance_ratio.sum(), 1.0)


def test_belongs_gives_both_answers_with_numbers(walk, songs):
    first = belongs(songs.values[0], walk)
    assert first.in_circle and first.in_ellipse and first.belongs
    np.testing.assert_allclose(np.abs(first.projection), [0.21522419, 0.20664043], atol=1e-6)
    # chi-square with 2 degrees of freedom: sqrt(-2 ln 0.05).
    assert first.threshold == pytest.approx(np.sqrt(-2 * np.log(0.05)))
    expected = np.sqrt((0.21522419 / 1.46530621) ** 2 + (0.20664043 / 0.09094177) ** 2)
    assert first.mahalanobis == pytest.approx(expected, rel=1e-6)

    # Close to the centre in plain distance but off-axis: inside the circle, outside the
    # ellipse. This is why the ellipse is the better test.
    mean = songs.values.mean(axis=0)
    off_axis = mean + 0.6 * walk.components[1] / np.abs(walk.components[1]).max()
    m = belongs(off_axis, walk, radius=1.0)
    assert m.in_circle and not m.in_ellipse
    far = belongs([0.9, -30.0], walk)
    assert not far.in_circle and not far.in_ellipse
    assert belongs([0.9, -30.0], walk, radius=100).in_circle
    assert set(far.to_dict()) >= {"distance", "radius", "mahalanobis", "threshold", "belongs"}


def test_belongs_validates(walk):
    with pytest.raises(InputError, match="point must have 2 values \\(energy, loudness\\)"):
        belongs([1, 2, 3], walk)
    with pytest.raises(InputError, match="confidence must be a float in \\(0, 1\\)"):
        belongs([0.5, -5], walk, confidence=1.5)
    with pytest.raises(InputError, match="radius must be a number >= 0"):
        belongs([0.5, -5], walk, radius=-1)


def test_non_numeric_columns_are_named(shared_data):
    with pytest.raises(InputError, match=r"column 'name' is not numeric .*Love The Way You Lie"):
        load_table(shared_data / "songs" / "songdata.csv", ["name", "energy"])
    with pytest.raises(InputError, match="no column 'volume'; its columns are name, "):
        load_table(shared_data / "songs" / "songdata.csv", ["energy", "volume"])


def test_load_table_edge_cases(tmp_path):
    p = tmp_path / "t.csv"
    p.write_bytes("\ufeffa,b,c\n1,x,3\n2,y,\n".encode())
    with pytest.raises(InputError, match="columns 'b', 'c' are not numeric"):
        load_table(p, ["a", "b", "c"])
    t = load_table(p)
    assert t.columns == ("a",) and t.skipped == ("b", "c") and t.labels == ("x", "y")
    with pytest.raises(InputError, match="no such file"):
        load_table(tmp_path / "missing.csv")
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(InputError, match="empty"):
        load_table(tmp_path / "empty.csv")
    (tmp_path / "text.csv").write_text("a,b\nx,y\n")
    with pytest.raises(InputError, match="no numeric column"):
        load_table(tmp_path / "text.csv")


def test_walkthrough_on_array_and_standardize():
    X = np.random.default_rng(0).normal(size=(30, 3)) * [1, 10, 100]
    w = pca_walkthrough(X, standardize=True)
    assert w.columns == ("x0", "x1", "x2")
    np.testing.assert_allclose((w.singular_values**2).sum(), 3.0)  # unit variances
    assert belongs(X.mean(axis=0), w).mahalanobis == pytest.approx(0.0, abs=1e-9)


def test_plot_walkthrough_writes_png(walk, tmp_path):
    out = plot_walkthrough(walk, tmp_path / "walk.png", point=[0.2, -6.0])
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
