"""Server safety without a browser: dataset text stays text (Markdown, plotly labels, the
report), the launcher listens on loopback unless asked, and hands its process to Streamlit."""

from __future__ import annotations

import html
import os
import re
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import analysis as nl
from dashboard import figures, launch
from dashboard.text import html_text, md, plot

HOSTILE = [
    "![b](http://127.0.0.1:9/x.png)",
    '<span style="fill:url(http://127.0.0.1:9/f)">s</span>',
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    ":red[red] **b** :material/label: :smile:",
    "=HYPERLINK(\"http://127.0.0.1:9\",\"x\")",
    "%{x} &amp; $x^2$",
    "https://example.com www.example.com a@b.co",
    "\u202eevil override",
    "a\u200bb",
    "x" * 300,
]


def _markdown_plain(text: str) -> str:
    """What CommonMark shows for backslash escapes (every ASCII punctuation may be escaped),
    with the invisible word joiners removed."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u2060", "")


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_escape_leaves_no_markup(value):
    out = md(value)
    # no unescaped character that Markdown or Streamlit treats as syntax
    assert not re.search(r"(?<!\\)[\[\]()*_`<>!#:$|~&=%]", out), out
    # no directive, icon, emoji, link or e-mail pattern survives the escape
    plain = out.replace("\\", "")
    assert ":material/" not in plain and "://" not in plain and "www." not in plain
    assert "@b" not in plain
    # and what the reader sees is the value itself (hidden characters made visible)
    shown = _markdown_plain(out)
    expected = value.replace("\u202e", "[U+202E]").replace("\u200b", "[U+200B]")
    assert shown == expected


@pytest.mark.parametrize("value", HOSTILE)
def test_plot_escape_leaves_no_tag_style_or_template_field(value):
    out = plot(value)
    assert "<" not in out and ">" not in out and "%{" not in out
    # plotly decodes &amp; &lt; &gt; &#37; for display: the reader sees the value
    shown = html.unescape(out)
    assert shown == value.replace("\u202e", "[U+202E]").replace("\u200b", "[U+200B]")


def test_report_text_escape_is_html_safe():
    assert html_text('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def _all_strings(obj) -> list[str]:
    """Every string anywhere in a plotly figure's JSON-able dict."""
    if isinstance(obj, str):
        return [obj]
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in _all_strings(v)]
    if isinstance(obj, list | tuple | np.ndarray):
        return [s for v in obj for s in _all_strings(v)]
    return []


def test_every_figure_escapes_class_names():
    k = len(HOSTILE)
    per_class = pd.DataFrame({"class": range(k), "name": HOSTILE, "given": np.arange(k) + 5,
                              "issues": np.ones(k, int), "noise_rate": np.linspace(0, .5, k),
                              "estimated_true": np.arange(k) + 4})
    joint = np.full((k, k), 1.0 / k**2)
    est = SimpleNamespace(confident_joint=np.ones((k, k)), joint=joint,
                          noise_matrix=np.full((k, k), 1 / k),
                          inverse_noise_matrix=np.full((k, k), 1 / k))
    table = pd.DataFrame({"row": np.arange(k), "id": np.arange(k), "score": np.full(k, .5),
                          "is_issue": np.arange(k) % 2 == 0, "given": np.arange(k),
                          "suggested": np.arange(k)[::-1]})
    annotators = pd.DataFrame({"annotator": HOSTILE[:3], "weighted_accuracy": [.5, .6, .7],
                               "ratings": [3, 4, 5], "accuracy": [.4, .5, .6]})
    built = [
        figures.noise_rate_bars(per_class),
        figures.class_distribution(per_class),
        figures.noise_matrix_figure(est, HOSTILE, selected=(0, 1)),
        *[figures.embedding_figure(np.zeros((k, 2)), table, colour_by=c, class_names=HOSTILE)
          for c in figures.COLOUR_BY],
        figures.probability_bars(np.full(k, 1 / k), HOSTILE, given=0, suggested=1, top=k),
        figures.kappa_figure(np.eye(3), HOSTILE[:3]),
        figures.annotator_quality_figure(annotators),
    ]
    for fig in built:
        for s in _all_strings(fig.to_plotly_json()["data"]) + _all_strings(
                fig.to_plotly_json()["layout"]):
            assert "<span" not in s and "<img" not in s and "<script" not in s, s
            assert "](http" not in s or "&lt;" in s or "![b]" in s  # shown, not a tag
            for raw in ("%{x} &amp;",):
                assert raw not in s, s  # the name's own "%{x}" never reaches a template


def test_launcher_listens_on_loopback_unless_asked():
    args = SimpleNamespace(data=None, label_col=None, host=None, export_dir=None)
    cmd = launch.streamlit_command(args, [])
    assert "--server.address=localhost" in cmd
    assert launch.exposure_warning(launch.listening_address(cmd)) is None
    # the user's --server.address wins, and is warned about
    cmd = launch.streamlit_command(args, ["--server.address", "0.0.0.0"])
    assert "--server.address=localhost" not in cmd
    assert launch.listening_address(cmd) == "0.0.0.0"
    assert "anyone who can reach this port" in launch.exposure_warning("0.0.0.0")
    # --host is the friendly spelling
    cmd = launch.streamlit_command(SimpleNamespace(**{**vars(args), "host": "192.168.1.5"}), [])
    assert "--server.address=192.168.1.5" in cmd
    for loopback in ("localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]"):
        assert launch.exposure_warning(loopback) is None, loopback
    with pytest.raises(SystemExit, match="either --host or --server.address"):
        launch.streamlit_command(SimpleNamespace(**{**vars(args), "host": "0.0.0.0"}),
                                 ["--server.address=::"])


def test_launcher_passes_the_export_folder_to_the_app(tmp_path):
    args = SimpleNamespace(data=None, label_col=None, host=None, export_dir=str(tmp_path / "x"))
    cmd = launch.streamlit_command(args, [])
    assert cmd[cmd.index("--") + 1:] == ["--export-dir", str(tmp_path / "x")]


def test_uploads_are_kept_within_the_limit(tmp_path, monkeypatch):
    import os
    import time

    from dashboard import session

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path))
    monkeypatch.setattr(session, "MAX_UPLOADS", 3)
    monkeypatch.setattr(session, "MAX_UPLOAD_BYTES", 10_000)
    paths = []
    for i in range(5):
        paths.append(session.save_upload(f"a,b\n{i},{i}\n".encode(), f"../../f{i}.csv"))
        past = time.time() - 100 + i
        os.utime(paths[-1].parent, (past, past))
    assert all(p.is_relative_to(tmp_path / "uploads") for p in paths)
    assert [p.exists() for p in paths] == [False, False, True, True, True]
    # size: one big file pushes out every older one, never itself
    big = session.save_upload(b"x" * 20_000, "big.csv")
    assert big.exists() and not any(p.exists() for p in paths)


def test_a_file_changed_on_disk_is_loaded_again(tmp_path, monkeypatch):
    """The dataset cache is keyed by the file's size and modification time too: editing the
    file and reopening it never serves the old rows (the stale-cache bug)."""
    import os

    import streamlit as st

    from dashboard import compute

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    st.cache_resource.clear()
    path = tmp_path / "d.csv"
    frame = pd.DataFrame({"x": np.arange(8.0), "label": list("aabbaabb")})
    frame.to_csv(path, index=False)
    source = compute.Source("file", str(path), label_column="label")
    first = compute.load(source)
    assert list(first.class_names) == ["a", "b"]
    frame.loc[0, "label"] = "c"
    frame.loc[1, "label"] = "c"
    frame.to_csv(path, index=False)
    os.utime(path, ns=(1, 1))  # even with an old timestamp: the size changed
    second = compute.load(source)
    assert list(second.class_names) == ["a", "b", "c"]
    assert second.fingerprint != first.fingerprint


def test_a_changed_file_is_not_served_from_its_stored_form(tmp_path, monkeypatch):
    """After a restart a large file comes back from its stored form (analysis/dataset_store):
    the same rows; once the file is edited (same size), the edited rows."""
    import streamlit as st

    from analysis.data import store as dataset_store
    from dashboard import compute

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    monkeypatch.setattr(dataset_store, "MIN_BYTES", 0)
    monkeypatch.setattr(dataset_store, "MIN_FREE_BYTES", 0)
    path = tmp_path / "d.csv"
    frame = pd.DataFrame({"x": np.arange(8.0), "label": list("aabbaabb")})
    frame.to_csv(path, index=False)
    source = compute.Source("file", str(path), label_column="label")

    def restart_and_load():
        dataset_store.wait()  # the stored form is written in the background
        st.cache_resource.clear()
        return compute.load(source)

    st.cache_resource.clear()
    first = compute.load(source)
    again = restart_and_load()
    assert "fingerprint" in again.__dict__  # read from the stored form, not hashed again
    assert again.fingerprint == first.fingerprint
    np.testing.assert_array_equal(again.labels, first.labels)
    frame.loc[0, "label"] = "b"  # same size
    frame.to_csv(path, index=False)
    os.utime(path, ns=(10**9, 10**9))
    edited = restart_and_load()
    assert list(edited.frame["label"]) == list("babbaabb")
    assert edited.fingerprint != first.fingerprint
    st.cache_resource.clear()


def test_the_process_cache_holds_a_bounded_number_of_datasets(tmp_path, monkeypatch):
    import streamlit as st

    from dashboard import compute

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    st.cache_resource.clear()
    cache = compute.cache()
    datasets = []
    for seed in range(compute.MAX_DATASETS + 2):
        rng = np.random.default_rng(seed)
        datasets.append(nl.from_arrays(rng.normal(size=(30, 2)), rng.integers(0, 2, 30),
                                       pred_probs=np.full((30, 2), 0.5)))
        compute.analysis_for(datasets[-1], "prune_by_noise_rate", "self_confidence")
    assert len(cache.entries) == compute.MAX_DATASETS
    # the oldest went first, the newest are held
    assert list(cache.entries) == [d.fingerprint for d in datasets[-compute.MAX_DATASETS:]]
    # variants per dataset are bounded too
    ds = datasets[-1]
    for f in ("prune_by_noise_rate", "prune_by_class", "both", "confident_learning",
              "predicted_neq_given", "low_self_confidence", "low_normalized_margin"):
        for r in ("self_confidence", "normalized_margin"):
            compute.analysis_for(ds, f, r)
    assert len(cache.entry(ds).variants) == compute.MAX_VARIANTS


def test_derived_values_are_made_once_per_analysis_and_key(tmp_path, monkeypatch):
    import gc

    import streamlit as st

    from dashboard import compute

    monkeypatch.setenv("NOISELENS_HOME", str(tmp_path / "ws"))
    st.cache_resource.clear()
    rng = np.random.default_rng(0)
    ds = nl.from_arrays(rng.normal(size=(30, 2)), rng.integers(0, 2, 30),
                        pred_probs=np.full((30, 2), 0.5))
    a = compute.analysis_for(ds, "prune_by_noise_rate", "self_confidence")
    b = compute.analysis_for(ds, "prune_by_class", "self_confidence")
    calls = []

    def make(tag):
        calls.append(tag)
        return np.arange(3) + len(calls)

    first = compute.derived(a, "x", lambda: make("a"))
    assert compute.derived(a, "x", lambda: make("again")) is first  # a rerun: no new call
    assert calls == ["a"]
    # another key or another analysis is another value
    assert compute.derived(a, ("x", 1), lambda: make("a1")).tolist() == [2, 3, 4]
    assert compute.derived(b, "x", lambda: make("b")).tolist() == [3, 4, 5]
    assert calls == ["a", "a1", "b"]
    # shared between reruns and sessions: an array cannot be written into by mistake
    with pytest.raises(ValueError, match="read-only"):
        first[0] = 9
    # bounded per analysis, and gone with the analysis
    for i in range(compute.MAX_DERIVED + 5):
        compute.derived(a, ("many", i), lambda: 0)
    assert len(compute.cache().derived[a]) == compute.MAX_DERIVED
    assert compute.derived(a, ("many", 0), lambda: "made again") == "made again"
    store = compute.cache()
    assert len(store.derived) == 2
    store.entries.clear()  # as when the bounded cache evicts the dataset with its analyses
    del a, b
    gc.collect()
    assert len(store.derived) == 0


def test_md_leaves_a_colon_before_a_space_alone():
    """Error texts ("file.csv: column 'x' ...") carried U+2060 after every colon; only a colon
    that could start a link, icon, emoji or directive is broken now."""
    from dashboard.text import md

    assert "\u2060" not in md("data.csv: column 'label' is missing")
    for risky in (":smile:", "http://x.y", ":material/home:", ":red[x]"):
        assert "\u2060" in md(risky), risky
