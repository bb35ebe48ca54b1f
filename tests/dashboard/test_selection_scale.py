"""The embedding map at scale: box / lasso regions select every row inside, by coordinates,
checked against a slow obvious point-in-polygon loop; the density figure's layers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import figures, selection


def slow_inside(x: float, y: float, px, py) -> bool:
    """Even-odd rule, one point at a time, from the definition."""
    inside = False
    n = len(px)
    for i in range(n):
        x1, y1, x2, y2 = px[i - 1], py[i - 1], px[i], py[i]
        if (y1 > y) != (y2 > y):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < xc:
                inside = not inside
    return inside


def star(rng, m=9):
    """A random non-convex (star-shaped) polygon."""
    angles = np.sort(rng.uniform(0, 2 * np.pi, m))
    radii = rng.uniform(0.3, 1.5, m)
    return radii * np.cos(angles) + rng.normal(), radii * np.sin(angles) + rng.normal()


@pytest.mark.parametrize("seed", range(6))
def test_points_in_polygon_matches_slow_loop(seed):
    rng = np.random.default_rng(seed)
    px, py = star(rng, m=5 + seed * 3)
    x, y = rng.normal(size=(2, 3000)) * 1.5
    got = selection.points_in_polygon(x, y, px, py)
    want = np.array([slow_inside(a, b, px, py) for a, b in zip(x, y, strict=True)])
    assert got.dtype == bool and np.array_equal(got, want)
    assert 0 < got.sum() < got.size  # the test can tell in from out


def test_self_intersecting_polygon_is_even_odd():
    # a bow-tie and a point in each lobe and outside
    px, py = [0, 2, 2, 0], [0, 2, 0, 2]
    x, y = np.array([1.8, 0.2, 1.0, 1.0]), np.array([1.0, 1.0, 1.8, 0.2])
    want = [slow_inside(a, b, px, py) for a, b in zip(x, y, strict=True)]
    assert selection.points_in_polygon(x, y, px, py).tolist() == want == [True, True, False,
                                                                          False]


def test_regions_from_event_reads_box_and_lasso():
    event = {"selection": {"points": [], "point_indices": [],
                           "box": [{"xref": "x", "yref": "y", "x": [3, 1], "y": [0, 2]}],
                           "lasso": [{"x": [0, 1, 1], "y": [0, 0, 1]},
                                     {"x": [0, 1], "y": [0, 0]},      # too few vertices
                                     {"x": [0, 1, None], "y": [0, 0, 1]}]}}
    regions = selection.regions_from_event(event)
    assert [r[0] for r in regions] == ["box", "lasso"]
    assert regions[0][1].tolist() == [3, 1]
    assert selection.regions_from_event(None) == []
    assert selection.regions_from_event({"selection": {"points": []}}) == []


def test_rows_in_regions_is_the_union_over_every_row():
    rng = np.random.default_rng(7)
    coords = rng.normal(size=(5000, 2)).astype(np.float32)
    px, py = star(rng)
    regions = [("box", np.array([0.5, -0.2]), np.array([1.0, 0.1])), ("lasso", px, py)]
    got = selection.rows_in_regions(coords, regions)
    want = [i for i, (a, b) in enumerate(coords.astype(np.float64))
            if (-0.2 <= a <= 0.5 and 0.1 <= b <= 1.0) or slow_inside(a, b, px, py)]
    assert got.dtype == np.int64 and got.tolist() == want
    assert selection.rows_in_regions(coords, []).size == 0


def table_of(n, rng, flagged_share=0.1):
    issue = rng.random(n) < flagged_share
    given = rng.integers(0, 5, n)
    return pd.DataFrame({"row": np.arange(n), "id": np.arange(n) + 100, "given": given,
                         "suggested": given, "score": rng.random(n), "is_issue": issue})


def test_density_figure_bins_every_row_and_draws_a_bounded_layer():
    rng = np.random.default_rng(1)
    n = 6000
    coords = rng.normal(size=(n, 2))
    table = table_of(n, rng)
    fig = figures.embedding_figure(coords, table, class_names=list("abcde"),
                                   density_above=5000, max_drawn=1000)
    heat = fig.data[0]
    assert heat.type == "heatmap" and heat.hoverinfo == "skip"
    # the image counts every row: log1p undone, empty bins are NaN
    z = np.asarray(heat.z, dtype=float)
    assert round(float(np.nansum(np.expm1(z)))) == n
    points = [t for t in fig.data[1:] if t.name != "flagged (outlined)"]
    drawn = np.concatenate([np.asarray(t.customdata)[:, 0] for t in points]).astype(int)
    assert drawn.size == 1000 and np.unique(drawn).size == 1000
    # every flagged row (about 600 < 1000) is drawn
    assert set(np.flatnonzero(table["is_issue"])) <= set(drawn)


def test_density_figure_samples_flagged_rows_when_they_exceed_two_thirds():
    rng = np.random.default_rng(2)
    table = table_of(3000, rng, flagged_share=0.5)
    fig = figures.embedding_figure(rng.normal(size=(3000, 2)), table, colour_by="issue",
                                   density_above=100, max_drawn=500)
    drawn = np.concatenate([np.asarray(t.customdata)[:, 0] for t in fig.data[1:]]).astype(int)
    assert drawn.size == np.unique(drawn).size == 500
    assert np.count_nonzero(table["is_issue"].to_numpy()[drawn]) == 333


def test_small_maps_have_no_density_layer():
    rng = np.random.default_rng(3)
    fig = figures.embedding_figure(rng.normal(size=(400, 2)), table_of(400, rng),
                                   class_names=list("abcde"))
    assert all(t.type == "scattergl" for t in fig.data)
    assert sum(len(t.x) for t in fig.data if t.name != "flagged (outlined)") == 400
