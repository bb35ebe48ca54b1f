"""Data shapes a user brings, built from the bundled digits sample or generated (no download).

Each builder writes files into a folder and returns the path to open (``--data`` / upload /
``load_dataset``). Shared by tests/test_data_shapes.py, tests/dashboard/test_apptest.py and
tests/dashboard/test_browser_shapes.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from analysis.data import samples


def _probabilities(truth: np.ndarray, k: int, seed: int, strength: float = 3.0) -> np.ndarray:
    """Model-like probabilities: a softmax of noise plus ``strength`` on the true class."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(len(truth), k))
    logits[np.arange(len(truth)), truth] += strength
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def digits_probabilities_only(folder: Path, *, audited: bool = False) -> Path:
    """The digits sample reduced to ``id``, a class-name ``label`` and ``pred_prob_<class>``
    columns (the way most people bring data); ``audited=True`` keeps ``true_label`` for the
    flagged-looking rows only (an audit chosen by the detector)."""
    s = samples.load("digits")
    names = [f"digit_{d}" for d in range(10)]
    labels = s.frame["label"].astype(int).to_numpy()
    truth = s.frame["true_label"].astype(int).to_numpy()
    probs = _probabilities(truth, 10, seed=1)
    frame = pd.DataFrame({"id": s.frame["id"].astype(str),
                          "label": [names[v] for v in labels]})
    for c, name in enumerate(names):
        frame[f"pred_prob_{name}"] = np.round(probs[:, c], 6)
    frame[[f"pred_prob_{n}" for n in names]] = frame[[f"pred_prob_{n}" for n in names]].div(
        frame[[f"pred_prob_{n}" for n in names]].sum(axis=1), axis=0)
    if audited:
        # the audit checked the rows the model disagrees with, plus a few others
        suspicious = probs.argmax(axis=1) != labels
        rng = np.random.default_rng(2)
        checked = suspicious | (rng.random(len(frame)) < 0.03)
        frame["true_label"] = np.where(checked, [names[v] for v in truth], "")
    path = folder / ("digits_probs_audited.csv" if audited else "digits_probs.csv")
    frame.to_csv(path, index=False)
    return path


def digits_image_folder(folder: Path, limit: int | None = None) -> Path:
    """The digits sample as an image folder: ``<folder>/digits_png/<label>/<id>.png``."""
    from PIL import Image

    s = samples.load("digits")
    root = folder / "digits_png"
    pixels = s.frame[s.feature_columns].astype(float).to_numpy()
    rows = range(len(s.frame)) if limit is None else range(limit)
    for r in rows:
        label = str(s.frame["label"].iloc[r])
        (root / label).mkdir(parents=True, exist_ok=True)
        img = (pixels[r].reshape(8, 8) * (255 / 16)).clip(0, 255).astype(np.uint8)
        Image.fromarray(img, mode="L").save(root / label / f"{s.frame['id'].iloc[r]}.png")
    return root


TOPICS = {
    "sports": "match goal team score coach league season player win referee stadium",
    "science": "atom cell energy theory experiment laboratory molecule physics data research",
    "cooking": "recipe oven flour sugar butter simmer taste kitchen spice garlic bake",
}


def text_csv(folder: Path, n: int = 240, wrong: int = 12) -> Path:
    """Short documents of three topics, ``wrong`` of them labelled with another topic."""
    rng = np.random.default_rng(3)
    names = list(TOPICS)
    truth = np.arange(n) % len(names)
    words = {t: v.split() for t, v in TOPICS.items()}
    texts = [" ".join(rng.choice(words[names[t]], size=14)) + " and more words here"
             for t in truth]
    labels = truth.copy()
    flip = rng.choice(n, size=wrong, replace=False)
    labels[flip] = (labels[flip] + 1) % len(names)
    frame = pd.DataFrame({"id": [f"doc{i:04d}" for i in range(n)],
                          "text": texts, "label": [names[v] for v in labels]})
    path = folder / "topics.csv"
    frame.to_csv(path, index=False)
    return path


def many_classes(folder: Path, k: int, n: int, *, seed: int = 4,
                 columns: bool = False) -> tuple[Path, Path, Path]:
    """``n`` rows, ``k`` classes named ``c0 … c{k-1}``: a CSV of ``id`` and ``label``, the
    probabilities as a ``.npy`` (columns in the model's order c0, c1, c2, …, which is not the
    sorted order of the names past 10 classes) and ``classes.txt`` naming that order. 8% wrong
    labels, half of them confusions between paired classes (c2 <-> c3). ``columns=True`` also
    writes the probabilities into the CSV as ``pred_prob_<class>`` columns."""
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % k
    rng.shuffle(truth)
    labels = truth.copy()
    flip = rng.random(n) < 0.08
    near = rng.random(n) < 0.5
    labels[flip & near] = truth[flip & near] ^ 1
    labels[labels >= k] = k - 1
    other = flip & ~near
    labels[other] = rng.integers(0, k, size=int(other.sum()))
    probs = _probabilities(truth, k, seed=seed + 1, strength=4.0 + np.log(k))
    names = [f"c{i}" for i in range(k)]
    stem = folder / f"classes_{k}"
    frame = pd.DataFrame({"id": np.arange(n), "label": [names[v] for v in labels]})
    if columns:  # the probabilities as pred_prob_<class> columns too (matched by name)
        frame = pd.concat([frame, pd.DataFrame(
            probs, columns=[f"pred_prob_{c}" for c in names])], axis=1)
    frame.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.7g")
    np.save(stem.with_name(stem.name + "_probs.npy"), probs.astype(np.float32))
    (folder / f"classes_{k}.txt").write_text("\n".join(names) + "\n")
    return (stem.with_suffix(".csv"), stem.with_name(stem.name + "_probs.npy"),
            folder / f"classes_{k}.txt")
