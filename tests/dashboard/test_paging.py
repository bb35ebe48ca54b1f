"""Tables page through rows: the pure paging arithmetic against a slow walk over the rows, and
the control on the Suspects and Review pages under AppTest (one page of rows sent, sorting and
filters over every row, the page following the example under review)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import analysis as nl
from dashboard import selection

APP = str(Path(__file__).resolve().parents[2] / "dashboard" / "app.py")


# -- the arithmetic ------------------------------------------------------------------------------
@pytest.mark.parametrize("total", [0, 1, 199, 200, 201, 400, 401, 14_170])
@pytest.mark.parametrize("size", [1, 7, 200])
def test_pages_cover_every_row_once_in_order(total, size):
    pages = selection.page_count(total, size)
    seen = []
    for page in range(1, pages + 1):
        start, stop, got = selection.page_bounds(total, page, size)
        assert got == page and 0 <= start <= stop <= total
        assert stop - start == min(size, total - (page - 1) * size) or total == 0
        seen.extend(range(start, stop))
        for position in range(start, stop):
            assert selection.page_of(position, size) == page
    assert seen == list(range(total))  # every row once, in list order
    # by the slow definition: the number of pages is the ceiling, at least one
    slow = 0
    while slow * size < total:
        slow += 1
    assert pages == max(slow, 1)


def test_out_of_range_pages_clamp_and_captions_read_naturally():
    assert selection.page_bounds(141_702, 2) == (200, 400, 2)
    assert selection.page_bounds(141_702, 10_000) == (141_600, 141_702, 709)
    assert selection.page_bounds(500, 0) == (0, 200, 1)
    assert selection.page_bounds(0, 3) == (0, 0, 1)
    assert selection.page_caption(200, 400, 141_702) == "rows 201–400 of 141,702"
    assert selection.page_caption(0, 0, 0) == "no rows of 0"
    with pytest.raises(ValueError, match="page size"):
        selection.page_count(10, 0)


# -- the control --------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _env(tmp_path_factory, app_env):
    app_env(tmp_path_factory.getbasetemp() / "paging_home")


def _suspects(**params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.session_state["suspect_flagged"] = False  # every row of the sample is listed
    at.run()
    at.switch_page("app_pages/suspects.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table(at: AppTest):
    return next(df.value for df in at.dataframe if "id" in df.value)


def test_suspects_table_sends_one_page_of_the_whole_ranking():
    at = _suspects()
    total = len(nl.from_sample("digits"))  # "Flagged only" off: every row is listed
    assert any(f"rows 1–200 of {total:,}" in c.value for c in at.caption)
    first = _table(at)
    assert len(first) == 200
    quality = first["quality"].to_numpy()
    assert (np.diff(quality) >= 0).all()  # lowest first

    at.number_input(key="suspect_table-page").set_value(3).run()
    assert not at.exception
    assert any(f"rows 401–600 of {total:,}" in c.value for c in at.caption)
    third = _table(at)
    assert len(third) == 200 and not set(third["id"]) & set(first["id"])
    # sorted over every row before paging: page 3 starts where page 1 ended
    assert third["quality"].min() >= quality.max()

    at.number_input(key="suspect_table-page").set_value(9).run()  # the last page
    assert any(f"rows 1,601–{total:,} of {total:,}" in c.value for c in at.caption)
    assert len(_table(at)) == total - 1_600
    # a filter applies to every row before paging, and a stale page is clamped
    at.slider(key="suspect_threshold").set_value(0.3).run()
    assert not at.exception
    kept = _table(at)
    assert (kept["quality"] <= 0.3 + 1e-9).all()
    assert any(f"of {total:,}" not in c.value and "rows " in c.value for c in at.caption) \
        or len(kept) < 200


def test_suspects_page_follows_the_example_under_review():
    last = str(_table(_suspects())["id"].iloc[-1])  # the 200th example of the list
    at = _suspects(id=last)
    assert at.number_input(key="suspect_table-page").value == 1
    assert _table(at)["▶"].iloc[-1] == "▶"
    at.button(key="next").click().run()  # example 201: the table turns to page 2
    assert at.number_input(key="suspect_table-page").value == 2
    table = _table(at)
    assert table["▶"].iloc[0] == "▶" and (table["▶"] == "▶").sum() == 1
    assert any("Example 201 of" in c.value for c in at.caption)


def test_review_decisions_page():
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    result = nl.analyze(nl.from_sample("digits"), detector="confident_learning")
    from dashboard import compute

    store = compute.review_store(result.dataset)
    ids = [str(i) for i in np.asarray(result.dataset.ids)[:450]]
    store.decide_many(ids, "keep")
    ids = list(store.decisions()["id"].astype(str))  # in the store's order (oldest first)
    assert sorted(ids) == sorted(str(i) for i in np.asarray(result.dataset.ids)[:450])
    at.switch_page("app_pages/review_export.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    table = next(df.value for df in at.dataframe if "action" in df.value)
    assert len(table) == 200
    assert list(table["id"].astype(str)) == ids[::-1][:200]  # newest first
    at.number_input(key="decisions_table-page").set_value(3).run()
    table = next(df.value for df in at.dataframe if "action" in df.value)
    assert list(table["id"].astype(str)) == ids[::-1][400:]
    assert any("rows 401–450 of 450" in c.value for c in at.caption)


# -- a small page forced: the page shown is a slice of the whole selection (issue #30) ------------
PAGE = 7  # rows per page in these tests: the digits sample's lists span many pages


def _ids_shown(at: AppTest) -> list[str]:
    return [str(i) for i in _table(at)["id"]]


def test_suspects_page_two_is_rows_n_to_2n_of_the_whole_ranking(monkeypatch):
    monkeypatch.setattr(selection, "PAGE_ROWS", PAGE)
    result = nl.analyze(nl.from_sample("digits"), detector="confident_learning")
    ids = np.asarray(result.dataset.ids).astype(str)
    ranked = [str(i) for i in ids[result.ranked]]  # the whole selection: every flagged row
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("app_pages/suspects.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert _ids_shown(at) == ranked[:PAGE]
    at.number_input(key="suspect_table-page").set_value(2).run()
    assert not at.exception
    assert _ids_shown(at) == ranked[PAGE:2 * PAGE]  # exactly rows N..2N of the ranking
    # the count is that of the whole selection, not of the page
    assert any(f"**{len(ranked):,}** examples match" in c.value for c in at.caption)
    assert any(f"rows {PAGE + 1}–{2 * PAGE} of {len(ranked):,}" in c.value for c in at.caption)
    # the example under review walks the whole list, not the page
    assert any(f"of {len(ranked):,} (← / → keys" in c.value for c in at.caption)


def test_map_selection_page_two_is_rows_n_to_2n_of_the_whole_selection(monkeypatch):
    """A lasso selects every matching row: the table pages over all of them, lowest quality
    first, and the counts are of the whole selection. (AppTest cannot lasso: the selection
    event is replaced by known rows, as in test_apptest.py.)"""
    monkeypatch.setattr(selection, "PAGE_ROWS", PAGE)
    result = nl.analyze(nl.from_sample("digits"), detector="confident_learning")
    rows = list(range(0, len(result.labels), 9))  # 200 rows, flagged and not
    monkeypatch.setattr(selection, "rows_from_event", lambda event: list(rows))
    order = sorted(range(len(rows)), key=lambda t: (float(result.scores[rows[t]]), t))
    expected = [str(result.dataset.ids[rows[t]]) for t in order]
    flagged = int(result.is_issue[rows].sum())
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    at.switch_page("app_pages/embedding_map.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.subheader[0].value == f"{len(rows):,} selected examples · {flagged:,} flagged"
    key = f"map-table-{len(rows)}-page"
    at.number_input(key=key).set_value(2).run()
    assert not at.exception
    assert _ids_shown(at) == expected[PAGE:2 * PAGE]
    assert any(f"rows {PAGE + 1}–{2 * PAGE} of {len(rows):,}" in c.value for c in at.caption)
    # the whole selection is kept for the Suspects page, not the page shown
    assert sorted(at.session_state["map_selection"].tolist()) == rows
