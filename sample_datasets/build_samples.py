"""Regenerate the bundled samples from scikit-learn's bundled data and ``analysis.data.noise``.

Usage (from the project's environment)::

    python sample_datasets/build_samples.py            # rewrite the shipped files
    python sample_datasets/build_samples.py --out DIR  # write them somewhere else

Only loaders that read files shipped inside scikit-learn are used (no download). Every sample
is written as ``<name>.csv`` plus its card ``<name>.md``; running the script twice gives
byte-identical files. CSV rather than Parquet: Parquet files record the writing library's
version (``created_by``), so their bytes change with every pyarrow release, while these CSV
files depend only on the data and the seeds.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from analysis.data.noise import (
    NoisyLabels,
    combine,
    flip_count,
    generate_noise_matrix,
    noise_from_matrix,
    pair_flips,
    uniform_noise,
)

HERE = Path(__file__).resolve().parent

SKLEARN_LICENCE = (
    "The copy used is the one shipped inside scikit-learn (BSD-3-Clause licence). The "
    "original data is from the UCI Machine Learning Repository, which lists it under "
    "CC BY 4.0: cite the UCI entry when you publish results on it. The injected noise and "
    "the simulated annotators are this project's (MIT)."
)

# digits: systematic confusions, then uniform noise on the remaining rows
DIGITS_SEED = 0
DIGITS_PAIRS = {(1, 7): 0.20, (4, 9): 0.20, (3, 8): 0.15}
DIGITS_UNIFORM_RATE = 0.03

# wine: class-conditional noise from a generated noise matrix
WINE_SEED = 0
WINE_TRACE = 2.7  # 3 classes: on average 90% of each class keeps its label
WINE_SPARSITY = 0.0

# breast_cancer: asymmetric class-conditional noise, noise_matrix[given, true]
BREAST_SEED = 0
BREAST_NOISE_MATRIX = np.array([[0.85, 0.05], [0.15, 0.95]])  # 0 = malignant, 1 = benign

# digits_annotators: (accuracy on the rated rows, systematic confusion, its rate)
ANNOTATORS_SEED = 0
ANNOTATORS = (
    (0.95, (7, 1), 0.20),
    (0.90, (4, 9), 0.30),
    (0.85, (3, 8), 0.35),
    (0.75, (5, 6), 0.40),
    (0.60, (1, 7), 0.50),
)
MISSING_RATE = 0.20

# digits_vendors: four labelling vendors; one of them mislabels about five times as often
VENDORS_SEED = 0
VENDORS = ("Acme Annotation", "BrightLabel", "Crowdwork Co", "DataTaggers")
VENDORS_BAD = "Crowdwork Co"
VENDORS_RATE = 0.04  # uniform noise of the good vendors
VENDORS_BAD_PAIRS = {(4, 9): 0.40, (7, 1): 0.40}  # the bad vendor's systematic confusions
VENDORS_BAD_RATE = 0.12  # and its uniform noise on its other rows


# digits_tags (multi-label, #28): tags derived from the true digit, then per-tag noise
TAGS_SEED = 0
#: tag -> the digits that truly have it
TAGS = {
    "even": (0, 2, 4, 6, 8),
    "prime": (2, 3, 5, 7),
    "loop": (0, 6, 8, 9),  # a closed loop in the usual handwriting
    "large": (5, 6, 7, 8, 9),
}
#: tag -> (P(given 0 | true 1): the tag left out, P(given 1 | true 0): the tag added)
TAGS_NOISE = {
    "even": (0.05, 0.02),
    "prime": (0.15, 0.03),
    "loop": (0.25, 0.02),
    "large": (0.05, 0.08),
}
TAGS_SEPARATOR = "|"


@dataclass(frozen=True)
class Built:
    """One sample, ready to write."""

    frame: pd.DataFrame
    card: str


# --------------------------------------------------------------------------- card tables


def _pct(count: int, total: int) -> str:
    return f"{count / total:.2%}" if total else "-"


def noise_section(true: np.ndarray, given: np.ndarray, names: Sequence) -> str:
    """Markdown: the total, the noise rate per true class, and the (true, given) counts."""
    k = len(names)
    joint = np.bincount(given * k + true, minlength=k * k).reshape(k, k)  # [given, true]
    wrong = int(np.count_nonzero(given != true))
    lines = [
        f"Total: {wrong:,} of {true.size:,} rows have a wrong label ({_pct(wrong, true.size)}).",
        "",
        "### Noise per true class",
        "",
        "| true class | rows | mislabelled | noise rate |",
        "|---|---:|---:|---:|",
    ]
    for j, name in enumerate(names):
        rows = int(joint[:, j].sum())
        bad = rows - int(joint[j, j])
        lines.append(f"| {name} | {rows:,} | {bad:,} | {_pct(bad, rows)} |")
    lines += [
        "",
        "### Mislabelled rows by (true, given)",
        "",
        "| true | given | rows |",
        "|---|---|---:|",
    ]
    for j in range(k):
        for i in range(k):
            if i != j and joint[i, j]:
                lines.append(f"| {names[j]} | {names[i]} | {joint[i, j]:,} |")
    return "\n".join(lines)


def _card(title: str, intro: str, source: str, noise: str, table: str, load: str) -> str:
    return "\n".join(
        [
            f"# {title}",
            "",
            intro,
            "",
            "## Source and licence",
            "",
            source,
            "",
            SKLEARN_LICENCE,
            "",
            "## Injected noise",
            "",
            noise,
            "",
            table,
            "",
            "## Use",
            "",
            "```python",
            "from analysis.data.samples import load",
            "",
            f'sample = load("{load}")',
            "sample.frame  # pandas DataFrame; sample.card is this text",
            "```",
            "",
            "Regenerate (byte-identical): `python sample_datasets/build_samples.py`.",
            "",
        ]
    )


# --------------------------------------------------------------------------- samples


def _digit_pixels() -> tuple[pd.DataFrame, np.ndarray]:
    digits = load_digits()
    pixels = pd.DataFrame(digits.data.astype(np.int64), columns=[f"px_{i}" for i in range(64)])
    return pixels, digits.target.astype(np.int64)


DIGITS_SOURCE = (
    "scikit-learn's `load_digits`: the 1,797 test images of *Optical Recognition of "
    "Handwritten Digits* (E. Alpaydin and C. Kaynak, 1998), "
    "https://archive.ics.uci.edu/dataset/80/optical+recognition+of+handwritten+digits. "
    "Each image is 8x8 pixels (values 0..16: counts of ink in 4x4 blocks of a 32x32 "
    "bitmap), stored row-major in `px_0`..`px_63`."
)


def digits_noise(y: np.ndarray) -> NoisyLabels:
    """Systematic pair flips, then uniform noise on the rows they left alone."""
    pairs = pair_flips(y, DIGITS_PAIRS, random_state=DIGITS_SEED)
    rest = uniform_noise(
        y, DIGITS_UNIFORM_RATE, exclude=pairs.is_flipped, random_state=DIGITS_SEED + 1
    )
    return combine(pairs, rest)


def build_digits() -> Built:
    pixels, y = _digit_pixels()
    noisy = digits_noise(y)
    frame = pd.concat(
        [
            pd.DataFrame({"id": np.arange(y.size), "label": noisy.labels, "true_label": y}),
            pixels,
        ],
        axis=1,
    )
    pair_text = ", ".join(
        f"{a} -> {b} at {rate:.0%} ({flip_count(rate, int(np.sum(y == a)))} rows)"
        for (a, b), rate in DIGITS_PAIRS.items()
    )
    uniform_rows = int(np.count_nonzero(noisy.is_flipped)) - sum(
        flip_count(rate, int(np.sum(y == a))) for (a, _), rate in DIGITS_PAIRS.items()
    )
    noise = (
        "1. Systematic confusions, as an annotator who mixes up similar digits would make: "
        f"{pair_text} of each true class "
        f"(`analysis.data.noise.pair_flips`, `random_state={DIGITS_SEED}`).\n"
        f"2. Uniform noise on {DIGITS_UNIFORM_RATE:.0%} of the remaining rows "
        f"({uniform_rows} rows), each relabelled to another digit chosen uniformly "
        f"(`uniform_noise` with `exclude=` the rows of step 1, "
        f"`random_state={DIGITS_SEED + 1}`)."
    )
    card = _card(
        "digits: handwritten digits with systematic label noise",
        "The dashboard's default dataset. 1,797 rows; columns `id` (0..1796), `label` (the "
        "noisy given label, 0..9), `true_label` (the original label) and the 64 pixels "
        "`px_0`..`px_63` of an 8x8 image.",
        DIGITS_SOURCE,
        noise,
        noise_section(y, noisy.labels, list(range(10))),
        "digits",
    )
    return Built(frame, card)


def _tabular(data, names: Sequence[str], noisy: NoisyLabels) -> pd.DataFrame:
    labels = pd.DataFrame(
        {
            "id": np.arange(noisy.labels.size),
            "label": np.asarray(names, dtype=object)[noisy.labels],
            "true_label": np.asarray(names, dtype=object)[noisy.true_labels],
        }
    )
    features = pd.DataFrame(data.data.astype(np.float64), columns=list(data.feature_names))
    return pd.concat([labels, features], axis=1)


def _matrix_text(nm: np.ndarray, names: Sequence[str]) -> str:
    header = "| given \\ true | " + " | ".join(names) + " |"
    lines = [header, "|---|" + "---:|" * len(names)]
    for i, name in enumerate(names):
        lines.append(f"| {name} | " + " | ".join(f"{v:.4g}" for v in nm[i]) + " |")
    return "\n".join(lines)


def build_wine() -> Built:
    data = load_wine()
    y = data.target.astype(np.int64)
    names = [str(n) for n in data.target_names]
    nm = generate_noise_matrix(
        len(names), trace=WINE_TRACE, sparsity=WINE_SPARSITY, random_state=WINE_SEED
    )
    noisy = noise_from_matrix(y, nm, random_state=WINE_SEED)
    noise = (
        "Class-conditional noise (about 10%): a noise matrix "
        f"`generate_noise_matrix(3, trace={WINE_TRACE}, sparsity={WINE_SPARSITY}, "
        f"random_state={WINE_SEED})`, applied with "
        f"`noise_from_matrix(true_labels, noise_matrix, random_state={WINE_SEED})`, which "
        "flips exactly round(n_j * (1 - P(given = j | true = j))) rows of each true class j. "
        "The matrix, P(given | true) (columns sum to 1):\n\n" + _matrix_text(nm, names)
    )
    card = _card(
        "wine: tabular chemistry with class-conditional label noise",
        "178 wines from three cultivars; columns `id`, `label` (noisy, class name), "
        "`true_label` and 13 real-valued chemical measurements.",
        "scikit-learn's `load_wine`: the *Wine* data (M. Forina et al., PARVUS), "
        "https://archive.ics.uci.edu/ml/datasets/wine.",
        noise,
        noise_section(y, noisy.labels, names),
        "wine",
    )
    return Built(_tabular(data, names, noisy), card)


def build_breast_cancer() -> Built:
    data = load_breast_cancer()
    y = data.target.astype(np.int64)
    names = [str(n) for n in data.target_names]
    noisy = noise_from_matrix(y, BREAST_NOISE_MATRIX, random_state=BREAST_SEED)
    noise = (
        "Asymmetric class-conditional noise, as when malignant cases are missed more often "
        "than benign ones are over-called: "
        f"`noise_from_matrix(true_labels, noise_matrix, random_state={BREAST_SEED})` with "
        "P(given | true):\n\n" + _matrix_text(BREAST_NOISE_MATRIX, names)
    )
    card = _card(
        "breast_cancer: a two-class tabular sample with asymmetric label noise",
        "569 tumours, malignant or benign; columns `id`, `label` (noisy, class name), "
        "`true_label` and 30 real-valued features of the cell nuclei.",
        "scikit-learn's `load_breast_cancer`: *Breast Cancer Wisconsin (Diagnostic)* "
        "(W. H. Wolberg, W. N. Street, O. L. Mangasarian, 1995), "
        "https://archive.ics.uci.edu/ml/datasets/breast+cancer+wisconsin+(diagnostic).",
        noise,
        noise_section(y, noisy.labels, names),
        "breast_cancer",
    )
    return Built(_tabular(data, names, noisy), card)


# --------------------------------------------------------------------------- annotators


def annotator_missing(
    n: int, rated_so_far: np.ndarray, last: bool, rng: np.random.Generator
) -> np.ndarray:
    """Mask of the rows an annotator skips; the last one rates every row nobody rated."""
    candidates = np.flatnonzero(rated_so_far > 0) if last else np.arange(n)
    skipped = rng.choice(candidates, size=flip_count(MISSING_RATE, n), replace=False)
    mask = np.zeros(n, dtype=bool)
    mask[skipped] = True
    return mask


def simulate_annotator(
    y: np.ndarray,
    accuracy: float,
    pair: tuple[int, int],
    pair_rate: float,
    missing: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Ratings of one annotator: ``pair`` confused at ``pair_rate``, other errors uniform,
    exactly ``flip_count(1 - accuracy, rated rows)`` errors in all; -1 where skipped."""
    errors = flip_count(1.0 - accuracy, int(np.count_nonzero(~missing)))
    systematic = pair_flips(y, {pair: pair_rate}, exclude=missing, random_state=rng)
    taken = missing | systematic.is_flipped
    eligible = int(np.count_nonzero(~taken))
    rest_count = errors - systematic.num_flipped
    if not 0 <= rest_count <= eligible:
        raise ValueError(
            f"accuracy {accuracy} and confusion {pair} at {pair_rate} are incompatible: "
            f"{systematic.num_flipped} systematic errors for {errors} errors in all."
        )
    rest = uniform_noise(y, rest_count / eligible, exclude=taken, random_state=rng)
    if rest.num_flipped != rest_count:  # pragma: no cover - guards the rate arithmetic
        raise RuntimeError("annotator simulation lost count of its errors")
    ratings = combine(systematic, rest).labels
    return np.where(missing, -1, ratings)


def majority_vote(ratings: np.ndarray, k: int) -> np.ndarray:
    """Most frequent rating per row (-1 = missing ignored); ties go to the lowest class."""
    counts = np.zeros((ratings.shape[0], k), dtype=np.int64)
    for col in ratings.T:
        rated = col >= 0
        counts[np.flatnonzero(rated), col[rated]] += 1
    return np.argmax(counts, axis=1)


def build_digits_annotators() -> Built:
    pixels, y = _digit_pixels()
    n = y.size
    ratings = np.empty((n, len(ANNOTATORS)), dtype=np.int64)
    rated = np.zeros(n, dtype=np.int64)
    for a, (accuracy, pair, rate) in enumerate(ANNOTATORS):
        rng = np.random.default_rng([ANNOTATORS_SEED, a + 1])
        missing = annotator_missing(n, rated, a == len(ANNOTATORS) - 1, rng)
        ratings[:, a] = simulate_annotator(y, accuracy, pair, rate, missing, rng)
        rated += ~missing
    consensus = majority_vote(ratings, 10)
    columns = [f"annotator_{a + 1}" for a in range(len(ANNOTATORS))]
    votes = pd.DataFrame(
        {
            col: pd.arrays.IntegerArray(np.where(r >= 0, r, 0), r < 0)
            for col, r in zip(columns, ratings.T, strict=True)
        }
    )
    frame = pd.concat(
        [
            pd.DataFrame({"id": np.arange(n), "label": consensus, "true_label": y}),
            votes,
            pixels,
        ],
        axis=1,
    )
    card = _card(
        "digits_annotators: the digits rated by five simulated annotators",
        "1,797 rows; columns `id`, `label` (majority vote of the available ratings, ties "
        "broken by the lowest digit), `true_label`, the ratings `annotator_1`.."
        "`annotator_5` (0..9, empty where the annotator skipped the row) and the 64 pixels "
        "`px_0`..`px_63` of an 8x8 image.",
        DIGITS_SOURCE,
        annotator_text(y, ratings, columns),
        noise_section(y, consensus, list(range(10))),
        "digits_annotators",
    )
    return Built(frame, card)


def annotator_text(y: np.ndarray, ratings: np.ndarray, columns: Sequence[str]) -> str:
    lines = [
        "Five simulated annotators of differing accuracy rate the true digits. Annotator a "
        f"(1..5) draws from `numpy.random.default_rng([{ANNOTATORS_SEED}, a])`: it skips "
        f"{MISSING_RATE:.0%} of the rows (the last annotator rates every row the others all "
        "skipped, so each row has at least one rating), confuses one pair of digits "
        "systematically (`pair_flips` on its rated rows) and makes uniform errors "
        "(`uniform_noise`) on other rows, so that its accuracy on the rows it rated is the "
        "target to the nearest row.",
        "",
        "| annotator | rated rows | correct | accuracy | systematic confusion | its rows |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for col, ratings_a, (_, (a, b), rate) in zip(columns, ratings.T, ANNOTATORS, strict=True):
        rated = ratings_a >= 0
        correct = int(np.count_nonzero(rated & (ratings_a == y)))
        pair_rows = int(np.count_nonzero(rated & (y == a) & (ratings_a == b)))
        lines.append(
            f"| {col} | {int(rated.sum()):,} | {correct:,} | {_pct(correct, int(rated.sum()))} "
            f"| {a} -> {b} at {rate:.0%} | {pair_rows} |"
        )
    per_row = (ratings >= 0).sum(axis=1)
    spread = ", ".join(f"{int(np.count_nonzero(per_row == c))} rows with {c}" for c in range(1, 6))
    lines += [
        "",
        f"Ratings per row: {spread}.",
        "",
        "The noise below is that of `label`, the majority vote, against `true_label`.",
    ]
    return "\n".join(lines)


# --------------------------------------------------------------------------- vendors


def vendor_noise(y: np.ndarray, vendor: np.ndarray) -> NoisyLabels:
    """Each vendor's noise on its own rows: uniform for the good ones; pair flips plus uniform
    noise for the bad one. Vendor v (0..3) draws from ``default_rng([VENDORS_SEED, v])``."""
    parts: list[NoisyLabels] = []
    for v, name in enumerate(VENDORS):
        rng = np.random.default_rng([VENDORS_SEED, v])
        other = vendor != name
        if name != VENDORS_BAD:
            parts.append(uniform_noise(y, VENDORS_RATE, exclude=other, random_state=rng))
            continue
        pairs = pair_flips(y, VENDORS_BAD_PAIRS, exclude=other, random_state=rng)
        parts.append(pairs)
        parts.append(uniform_noise(y, VENDORS_BAD_RATE, exclude=other | pairs.is_flipped,
                                   random_state=rng))
    return combine(*parts)


def vendor_text(y: np.ndarray, given: np.ndarray, vendor: np.ndarray) -> str:
    lines = [
        f"Each row is assigned to one of {len(VENDORS)} labelling vendors, in equal shares "
        f"(`numpy.random.default_rng({VENDORS_SEED}).permutation`). The good vendors flip "
        f"{VENDORS_RATE:.0%} of their rows uniformly (`uniform_noise`); {VENDORS_BAD} confuses "
        + ", ".join(f"{a} -> {b} at {r:.0%}" for (a, b), r in VENDORS_BAD_PAIRS.items())
        + f" of its rows of those true digits (`pair_flips`) and flips {VENDORS_BAD_RATE:.0%} "
        "of its other rows "
        "uniformly. Vendor v (0..3, in the order of the table) draws from "
        f"`numpy.random.default_rng([{VENDORS_SEED}, v])`.",
        "",
        "| vendor | rows | mislabelled | noise rate |",
        "|---|---:|---:|---:|",
    ]
    for name in VENDORS:
        rows = vendor == name
        bad = int(np.count_nonzero(rows & (given != y)))
        lines.append(f"| {name} | {int(rows.sum()):,} | {bad:,} | {_pct(bad, int(rows.sum()))} |")
    return "\n".join(lines)


def build_digits_vendors() -> Built:
    pixels, y = _digit_pixels()
    order = np.random.default_rng(VENDORS_SEED).permutation(y.size)
    vendor = np.empty(y.size, dtype=object)
    vendor[order] = np.asarray(VENDORS, dtype=object)[np.arange(y.size) % len(VENDORS)]
    noisy = vendor_noise(y, vendor)
    frame = pd.concat(
        [
            pd.DataFrame({"id": np.arange(y.size), "label": noisy.labels, "true_label": y,
                          "vendor": vendor}),
            pixels,
        ],
        axis=1,
    )
    card = _card(
        "digits_vendors: handwritten digits labelled by four vendors, one of them sloppy",
        "The sample for noise by slice (`noiselens analyze --sample digits_vendors --slice-col "
        "vendor`). 1,797 rows; columns `id`, `label` (noisy, 0..9), `true_label`, `vendor` "
        f"(who labelled the row) and the 64 pixels `px_0`..`px_63`. {VENDORS_BAD} has about "
        "five times the noise of the others.",
        DIGITS_SOURCE,
        vendor_text(y, noisy.labels, vendor),
        noise_section(y, noisy.labels, list(range(10))),
        "digits_vendors",
    )
    return Built(frame, card)


# --------------------------------------------------------------------------- multi-label


def tag_noise(truth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Per tag, flip exactly ``flip_count(rate, rows)`` of the rows that truly have it (the
    missing rate) and of the rows that do not (the extra rate), chosen at random."""
    given = truth.copy()
    for c, (missing, extra) in enumerate(TAGS_NOISE.values()):
        for value, rate in ((1, missing), (0, extra)):
            rows = np.flatnonzero(truth[:, c] == value)
            flip = rng.choice(rows, size=flip_count(rate, rows.size), replace=False)
            given[flip, c] = 1 - value
    return given


def joined_tags(matrix: np.ndarray) -> list[str]:
    names = list(TAGS)
    return [TAGS_SEPARATOR.join(names[c] for c in np.flatnonzero(row)) for row in matrix]


def tags_section(truth: np.ndarray, given: np.ndarray) -> str:
    n = truth.shape[0]
    wrong = int((truth != given).any(axis=1).sum())
    lines = [
        f"Total: {wrong:,} of {n:,} rows have at least one wrong tag ({_pct(wrong, n)}); "
        f"{int((truth != given).sum()):,} wrong (row, tag) cells.",
        "",
        "### Noise per tag",
        "",
        "| tag | rows with it (true) | left out (missing) | missing rate | rows without it "
        "(true) | added (extra) | extra rate |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for c, name in enumerate(TAGS):
        has = truth[:, c] == 1
        missing = int((has & (given[:, c] == 0)).sum())
        extra = int((~has & (given[:, c] == 1)).sum())
        lines.append(f"| {name} | {int(has.sum()):,} | {missing:,} | {_pct(missing, has.sum())} "
                     f"| {int((~has).sum()):,} | {extra:,} | {_pct(extra, (~has).sum())} |")
    empty_true = int((truth.sum(axis=1) == 0).sum())
    empty_given = int((given.sum(axis=1) == 0).sum())
    lines += ["", f"Rows with no tag: {empty_true:,} truly (the 1s), {empty_given:,} as given."]
    return "\n".join(lines)


def build_digits_tags() -> Built:
    pixels, y = _digit_pixels()
    truth = np.array([[int(d in digits) for digits in TAGS.values()] for d in y], dtype=np.int64)
    given = tag_noise(truth, np.random.default_rng(TAGS_SEED))
    frame = pd.concat(
        [
            pd.DataFrame({"id": np.arange(y.size), "label": joined_tags(given),
                          "true_label": joined_tags(truth)}),
            pixels,
        ],
        axis=1,
    )
    rules = "; ".join(f"`{name}`: {', '.join(map(str, digits))}"
                      for name, digits in TAGS.items())
    rates = "; ".join(f"`{name}` {m:.0%} missing, {e:.0%} extra"
                      for name, (m, e) in TAGS_NOISE.items())
    noise = (
        f"Each row's true tags follow from its true digit ({rules}; the digit 1 has none). "
        "Then, per tag, exactly `flip_count(rate, rows)` rows that truly have the tag lose it "
        "(missing) and as many rows without it gain it (extra), chosen by "
        f"`numpy.random.default_rng({TAGS_SEED})` in tag order ({rates})."
    )
    card = _card(
        "digits_tags: handwritten digits with several tags per row (multi-label)",
        "1,797 rows; columns `id`, `label` (the noisy given tags, class names joined by "
        f"`{TAGS_SEPARATOR}`; an empty cell is a row with no tag), `true_label` (the tags "
        "before noise, in the same form) and the 64 pixels `px_0`..`px_63` of an 8x8 image. "
        "Tags: " + ", ".join(f"`{t}`" for t in TAGS) + ". Read the tags with "
        "`analysis.data.multilabel.parse_delimited(frame, 'label', class_names=[...])`.",
        DIGITS_SOURCE,
        noise,
        tags_section(truth, given),
        "digits_tags",
    )
    card = card.replace('from analysis.data.samples import load\n\nsample = load("digits_tags")',
                        'from analysis.data.multilabel import load_multilabel_sample\n\n'
                        'sample = load_multilabel_sample("digits_tags")')
    return Built(frame, card)


# --------------------------------------------------------------------------- writing

BUILDERS: dict[str, Callable[[], Built]] = {
    "digits": build_digits,
    "digits_annotators": build_digits_annotators,
    "wine": build_wine,
    "breast_cancer": build_breast_cancer,
    "digits_vendors": build_digits_vendors,
    "digits_tags": build_digits_tags,
}


def write(name: str, built: Built, out_dir: Path) -> list[Path]:
    """Write ``<name>.csv`` and ``<name>.md``; return their paths."""
    csv_path = out_dir / f"{name}.csv"
    card_path = out_dir / f"{name}.md"
    built.frame.to_csv(csv_path, index=False, lineterminator="\n", encoding="utf-8")
    card_path.write_text(built.card, encoding="utf-8", newline="\n")
    return [csv_path, card_path]


def build_all(out_dir: Path = HERE) -> list[Path]:
    """Build every sample into ``out_dir``; return the files written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, builder in BUILDERS.items():
        written += write(name, builder(), out_dir)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=HERE, help="output folder")
    args = parser.parse_args(argv)
    for path in build_all(args.out):
        print(f"wrote {path} ({path.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
