"""Figure builders and selection parsing: pure functions, checked by their definitions."""

from __future__ import annotations

import types

import numpy as np
import pytest

import analysis as nl
from dashboard import figures, selection, thumbs


@pytest.fixture(scope="module")
def result():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 400)
    probs = rng.dirichlet(np.ones(4) * 0.3, 400)
    probs[np.arange(400), labels] += 1.0
    probs /= probs.sum(1, keepdims=True)
    flip = rng.random(400) < 0.15
    labels[flip] = (labels[flip] + 1) % 4
    X = rng.normal(size=(400, 3))
    return nl.analyze(nl.from_arrays(X, np.array(list("abcd"))[labels], pred_probs=probs))


def test_noise_matrix_markers_carry_their_cell_and_values(result):
    est = result.estimate
    for kind in figures.MATRIX_KINDS:
        fig = figures.noise_matrix_figure(est, result.class_names, kind=kind,
                                          hide_diagonal=False)
        trace = fig.data[0]
        custom = np.asarray(trace.customdata)
        values = figures.matrix_values(est, kind)
        colours = np.asarray(trace.marker.color)
        for (i, j, count), colour in zip(custom, colours, strict=True):
            assert count == est.confident_joint[int(i), int(j)]
            assert colour == pytest.approx(values[int(i), int(j)])
    # P(true | given) is stored [true, given]: the figure shows it as [given, true]
    np.testing.assert_array_equal(figures.matrix_values(est, "inverse_noise_matrix"),
                                  est.inverse_noise_matrix.T)
    hidden = figures.noise_matrix_figure(est, result.class_names, hide_diagonal=True)
    custom = np.asarray(hidden.data[0].customdata)
    diagonal = custom[:, 0] == custom[:, 1]
    assert np.all(np.asarray(hidden.data[0].marker.color)[diagonal] == 0)
    with pytest.raises(ValueError, match="kind='x' is not one of"):
        figures.matrix_values(est, "x")


def test_clicked_cell_is_read_from_customdata(result):
    fig = figures.noise_matrix_figure(result.estimate, result.class_names, selected=(1, 2))
    custom = fig.data[0].customdata
    t = 7  # any marker
    event = {"selection": {"points": [{"curve_number": 0, "point_index": t,
                                       "customdata": list(custom[t])}]}}
    assert selection.cell_from_event(event) == (int(custom[t][0]), int(custom[t][1]))
    # the outline of the selected cell has no customdata: ignored
    event = {"selection": {"points": [{"curve_number": 1, "point_index": 0}]}}
    assert selection.cell_from_event(event) is None
    assert selection.cell_from_event(None) is None
    assert selection.cell_from_event({"selection": {"points": []}}) is None


def test_map_points_carry_row_ids_across_traces(result):
    table = result.table()
    coords = np.random.default_rng(1).normal(size=(len(table), 2))
    fig = figures.embedding_figure(coords, table, colour_by="given",
                                   class_names=result.class_names)
    # one trace per class plus the outline of flagged rows; point indices restart per trace
    rows_by_trace = [np.asarray(tr.customdata)[:, 0].astype(int) for tr in fig.data]
    assert result.num_issues > 0
    plain = np.concatenate(rows_by_trace[:-1])
    assert sorted(plain) == list(range(len(table)))
    assert set(rows_by_trace[-1]) == set(np.flatnonzero(result.is_issue))
    # a lasso over two traces: the same point index in each trace means different rows
    event = {"selection": {"points": [
        {"curve_number": 0, "point_index": 0, "customdata": list(fig.data[0].customdata[0])},
        {"curve_number": 1, "point_index": 0, "customdata": list(fig.data[1].customdata[0])},
        {"curve_number": 4, "point_index": 0, "customdata": list(fig.data[-1].customdata[0])},
    ]}}
    got = selection.rows_from_event(event)
    expected = [rows_by_trace[0][0], rows_by_trace[1][0], rows_by_trace[-1][0]]
    assert got == list(dict.fromkeys(int(r) for r in expected))
    for tr in fig.data:
        xy = np.stack([tr.x, tr.y], axis=1)
        np.testing.assert_array_equal(
            xy, coords.astype(np.float32)[np.asarray(tr.customdata)[:, 0].astype(int)])


def _summary_by_hand(result, rows):
    """Selected rows, lowest score first (equal scores: as selected), and the flagged count."""
    order = sorted(range(len(rows)), key=lambda t: (float(result.scores[rows[t]]), t))
    ordered = [int(rows[t]) for t in order]
    return ordered, sum(1 for r in ordered if bool(result.is_issue[r]))


def test_map_selection_summary_is_ordered_by_score_and_counts_the_flagged(result):
    rng = np.random.default_rng(3)
    flagged_rows = np.flatnonzero(result.is_issue)
    clean_rows = np.flatnonzero(~result.is_issue)
    # mostly unflagged rows, in selection (not score) order: swapping the count for the
    # unflagged one or dropping the sort is seen
    rows = rng.permutation(np.concatenate([flagged_rows[:7], clean_rows[:40]])).tolist()
    ordered, flagged = selection.summarise_selection(result, rows)
    want_rows, want_flagged = _summary_by_hand(result, rows)
    assert ordered.tolist() == want_rows and flagged == want_flagged == 7
    assert ordered.tolist() != rows  # the selection really was out of order
    # through the event the page receives
    event = {"selection": {"points": [{"customdata": [r, 0.0]} for r in rows]}}
    ordered, flagged = selection.summarise_selection(result, selection.rows_from_event(event))
    assert ordered.tolist() == want_rows and flagged == 7
    # equal scores keep the selection order; an empty selection is empty
    tied = types.SimpleNamespace(scores=np.array([0.5, 0.2, 0.5, 0.2, 0.9]),
                                 is_issue=np.array([True, False, False, True, False]))
    for picked in ([4, 2, 0, 3, 1], [0, 2, 1, 3], [3]):
        ordered, flagged = selection.summarise_selection(tied, picked)
        assert (ordered.tolist(), flagged) == _summary_by_hand(tied, picked)
    ordered, flagged = selection.summarise_selection(result, [])
    assert ordered.tolist() == [] and flagged == 0


def test_map_sample_keeps_every_flagged_row(result):
    table = result.table()
    coords = np.zeros((len(table), 2))
    fig = figures.embedding_figure(coords, table, colour_by="issue", max_points=150)
    rows = np.concatenate([np.asarray(tr.customdata)[:, 0].astype(int) for tr in fig.data])
    assert len(rows) == max(150, result.num_issues)
    assert set(np.flatnonzero(result.is_issue)) <= set(rows)


def test_probability_bars_mark_given_and_suggested(result):
    row = int(result.ranked[0])
    fig = figures.probability_bars(result.pred_probs[row], result.class_names,
                                   given=int(result.labels[row]),
                                   suggested=int(result.suggested[row]), top=2)
    bar = fig.data[0]
    names = list(bar.y)
    assert result.class_names[result.labels[row]] in names
    assert result.class_names[result.suggested[row]] in names
    colours = dict(zip(names, bar.marker.color, strict=True))
    assert colours[result.class_names[result.suggested[row]]] == figures.SUGGESTED_COLOUR
    np.testing.assert_allclose(bar.x, [result.pred_probs[row][result.class_names.index(n)]
                                       for n in names])


def test_parse_cell_rejects_stale_urls():
    assert selection.parse_cell("3-8", 10) == (3, 8)
    for bad in ("", None, "3", "3-10", "a-b", "-1-2", "3-8-1"):
        assert selection.parse_cell(bad, 10) is None


def test_thumbnail_is_a_png_of_the_pixels():
    import base64
    import io

    from PIL import Image

    pixels = np.arange(64, dtype=float)
    uri = thumbs.png_data_uri(pixels, (8, 8), scale=2)
    assert uri.startswith("data:image/png;base64,")
    img = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    assert img.size == (16, 16)
    arr = np.asarray(img)
    assert arr[0, 0] == 255 and arr[-1, -1] == 0  # low values white, high values dark


def test_row_neighbours_equal_the_exact_search(monkeypatch, tmp_path):
    from dashboard import compute as state

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    ds = nl.from_sample("wine")
    X = state.features_for(ds)
    indices, distances = nl.nearest_neighbours(X, 10, method="exact")
    for row in (0, 57, 177):
        near, dist = state.row_neighbours(ds, row, 10)
        np.testing.assert_array_equal(near, indices[row])
        np.testing.assert_allclose(dist, distances[row], rtol=1e-5)


def test_numeric_customdata_as_the_browser_sends_it():
    # numpy customdata reaches Python as {"0": row, "1": id, "2": score} per point
    event = {"selection": {"points": [
        {"curve_number": 0, "point_index": 3, "customdata": {"0": 17, "1": 17, "2": 0.5}},
        {"curve_number": 2, "point_index": 3, "customdata": {"1": 4, "0": 2, "2": 0.1}},
    ]}}
    assert selection.rows_from_event(event) == [17, 2]
    cell = {"selection": {"points": [{"customdata": {"0": 7, "1": 1, "2": 29}}]}}
    assert selection.cell_from_event(cell) == (7, 1)


def test_long_class_names_are_cut_on_the_class_axis_only():
    """The bars keep the whole (escaped) name as their category and in the hover; the axis
    shows it cut to TICK_MAX_CHARS, cut before escaping (never inside an entity)."""
    import pandas as pd

    from dashboard.text import plot

    n = figures.TICK_MAX_CHARS
    names = ["short", "x" * (n - 2) + "<&>tail end", "y" * (n + 30)]
    per_class = pd.DataFrame({"class": range(3), "name": names, "given": [5, 6, 7],
                              "issues": [1, 1, 1], "noise_rate": [0.1, 0.2, 0.3],
                              "estimated_true": [4, 6, 8]})
    for fig in (figures.noise_rate_bars(per_class), figures.class_distribution(per_class)):
        layout = fig.to_plotly_json()["layout"]
        axis = layout["yaxis"] if "ticktext" in layout["yaxis"] else layout["xaxis"]
        shown = dict(zip(axis["tickvals"], axis["ticktext"], strict=True))
        assert set(shown) == {plot(v) for v in names}
        assert {str(v) for trace in fig.data for v in
                (trace.y if trace.orientation == "h" else trace.x)} == set(shown)
        assert shown[plot("short")] == "short"
        assert shown[plot(names[1])] == plot("x" * (n - 2) + "<…")
        assert shown[plot(names[2])] == "y" * (n - 1) + "…"


def test_noise_matrix_colours_are_scaled_on_the_class_cells_only(result):
    """#25: a big "no confident class" column set the colour scale and left the real
    confusion pale; the scale's top is now the largest off-diagonal class cell, and the
    colour bar says the counts are raw (the hover gives the calibrated ~N)."""
    k = len(result.class_names)
    cells = selection.cell_counts(result.labels, result.estimated_true, k).astype(float)
    cells[:, k] += 1000  # many rows with no confident class
    fig = figures.noise_matrix_figure(result.estimate, result.class_names, cells=cells)
    marker = fig.data[0].marker
    off = max(cells[i, j] for i in range(k) for j in range(k) if i != j)
    assert marker.cmax == off and off < 1000
    assert "raw rows" in marker.colorbar.title.text and "clipped" in marker.colorbar.title.text
    custom = np.asarray(fig.data[0].customdata)
    t = next(t for t, (i, j, _) in enumerate(custom) if i != j and j < k)
    i, j = int(custom[t][0]), int(custom[t][1])
    assert (f"{int(cells[i, j]):,} row{'s' if int(cells[i, j]) != 1 else ''} listed (raw count)"
            f"<br>~{result.estimate.confident_joint[i, j]:,.0f} after calibration"
            ) in fig.data[0].hovertemplate[t]
    plain = figures.noise_matrix_figure(result.estimate, result.class_names)
    assert plain.data[0].marker.colorbar.title.text == "rows (calibrated)"
