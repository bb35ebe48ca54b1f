"""Bundled sample datasets with known injected label noise (and its truth), offline.

>>> from analysis.data.samples import load, names
>>> names()
['digits', 'digits_annotators', 'wine', 'breast_cancer', 'digits_vendors']
>>> sample = load("digits")
>>> sample.frame.shape
(1797, 67)

Each sample is a CSV file in ``sample_datasets/`` with a markdown card next to it (source,
licence, the noise injected with its seeds, the resulting noise per class). The files are
made by ``sample_datasets/build_samples.py``; :func:`load` only reads and checks them.

In a source checkout (and an editable install) the files are read from the repository's
``sample_datasets/`` folder; a wheel ships them as package data, ``analysis/sample_data/``.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

#: The folder a wheel installs the sample files to, inside the ``analysis`` package.
PACKAGED_DIR_NAME = "sample_data"
#: The repository's folder of sample files (a source checkout or an editable install).
REPOSITORY_DIR = Path(__file__).resolve().parents[2] / "sample_datasets"


def _samples_dir() -> Path:
    """The installed package's copy of the samples if there is one, else the repository's."""
    packaged = resources.files("analysis") / PACKAGED_DIR_NAME
    if packaged.is_dir():
        # an installed wheel is a folder on disk: the files are plain files there
        return Path(str(packaged))
    return REPOSITORY_DIR


#: Where the sample files live: ``analysis/sample_data/`` in an installed wheel, else the
#: repository's ``sample_datasets/`` folder.
SAMPLES_DIR = _samples_dir()

ID_COLUMN = "id"
LABEL_COLUMN = "label"
TRUE_LABEL_COLUMN = "true_label"


@dataclass(frozen=True, eq=False)
class Sample:
    """A bundled sample and what the analysis needs to know about its columns.

    Attributes
    ----------
    name : str
        The name :func:`load` was given.
    frame : pandas.DataFrame
        One row per example: ``id``, the given label, the true label, the annotator ratings
        (if any) and the features.
    label_column, true_label_column : str
        The noisy given label and the label before noise.
    feature_columns : list of str
        Numeric feature columns (the pixels, row-major, for image samples).
    image_shape : tuple of int or None
        ``(height, width)`` when the features are the pixels of an image.
    annotator_columns : list of str
        One column per annotator (nullable ``Int64``, missing where not rated); empty when
        the sample has a single label.
    card : str
        The sample's markdown card.
    id_column : str
        Stable row id, 0..N-1.
    slice_columns : tuple of str
        Text columns that describe where a row comes from (e.g. ``vendor``): not features,
        something to slice the noise by.
    """

    name: str
    frame: pd.DataFrame
    label_column: str
    true_label_column: str
    feature_columns: list[str]
    image_shape: tuple[int, int] | None
    annotator_columns: list[str]
    card: str
    id_column: str = ID_COLUMN
    slice_columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Spec:
    rows: int
    num_features: int
    label_dtype: str  # "int64": classes 0..K-1; "str": class names
    feature_dtype: str
    image_shape: tuple[int, int] | None = None
    num_annotators: int = 0
    slice_columns: tuple[str, ...] = ()


_SPECS: dict[str, _Spec] = {
    "digits": _Spec(1797, 64, "int64", "int64", image_shape=(8, 8)),
    "digits_annotators": _Spec(1797, 64, "int64", "int64", image_shape=(8, 8), num_annotators=5),
    "wine": _Spec(178, 13, "str", "float64"),
    "breast_cancer": _Spec(569, 30, "str", "float64"),
    "digits_vendors": _Spec(1797, 64, "int64", "int64", image_shape=(8, 8),
                            slice_columns=("vendor",)),
}


def names() -> list[str]:
    """Names of the bundled samples, the dashboard's default (``"digits"``) first."""
    return list(_SPECS)


def sample_path(name: str) -> Path:
    """Path of a sample's CSV file (e.g. to open it as a user's file would be opened)."""
    _spec(name)
    return SAMPLES_DIR / f"{name}.csv"


def _spec(name: str) -> _Spec:
    if name not in _SPECS:
        raise ValueError(f"unknown sample {name!r}; valid names: {', '.join(_SPECS)}.")
    return _SPECS[name]


def load(name: str) -> Sample:
    """Load a bundled sample from its shipped file (no network, no regeneration).

    Parameters
    ----------
    name : str
        One of :func:`names`.

    Returns
    -------
    Sample
        A fresh frame each call (changing it does not change the next load).

    Raises
    ------
    ValueError
        For an unknown name (the message lists the valid ones), a missing file, or a file that
        does not have the sample's columns, dtypes or row count.
    """
    spec = _spec(name)
    csv_path = SAMPLES_DIR / f"{name}.csv"
    card_path = SAMPLES_DIR / f"{name}.md"
    for path in (csv_path, card_path):
        if not path.is_file():
            raise ValueError(
                f"sample file {path} is missing; in a source checkout regenerate the samples "
                "with `python sample_datasets/build_samples.py`, else reinstall noiselens."
            )
    frame, annotators, features = _read(csv_path, spec)
    _validate(csv_path, frame, spec, annotators, features)
    return Sample(
        name=name,
        frame=frame,
        label_column=LABEL_COLUMN,
        true_label_column=TRUE_LABEL_COLUMN,
        feature_columns=features,
        image_shape=spec.image_shape,
        annotator_columns=annotators,
        card=card_path.read_text(encoding="utf-8"),
        slice_columns=spec.slice_columns,
    )


def _read(path: Path, spec: _Spec) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Read with the sample's dtypes; return the frame, annotator and feature columns."""
    header = list(pd.read_csv(path, nrows=0).columns)
    required = [ID_COLUMN, LABEL_COLUMN, TRUE_LABEL_COLUMN]
    annotators = [f"annotator_{a + 1}" for a in range(spec.num_annotators)]
    slices = list(spec.slice_columns)
    missing = [c for c in required + annotators + slices if c not in header]
    if missing:
        raise ValueError(f"{path}: columns {missing} are missing (found {header[:8]}...).")
    features = [c for c in header if c not in required and c not in annotators
                and c not in slices]
    dtypes = {
        ID_COLUMN: "int64",
        LABEL_COLUMN: spec.label_dtype,
        TRUE_LABEL_COLUMN: spec.label_dtype,
    }
    dtypes |= {c: "Int64" for c in annotators}
    dtypes |= {c: "str" for c in slices}
    dtypes |= {c: spec.feature_dtype for c in features}
    try:
        frame = pd.read_csv(path, dtype=dtypes, keep_default_na=False, na_values=[""])
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: a column does not hold the sample's type: {err}") from None
    return frame, annotators, features


def _validate(path: Path, frame: pd.DataFrame, spec: _Spec, annotators, features) -> None:
    if frame.shape[0] != spec.rows:
        raise ValueError(f"{path}: expected {spec.rows} rows, found {frame.shape[0]}.")
    if len(features) != spec.num_features:
        raise ValueError(
            f"{path}: expected {spec.num_features} feature columns, found {len(features)}."
        )
    if not np.array_equal(frame[ID_COLUMN].to_numpy(), np.arange(spec.rows)):
        raise ValueError(f"{path}: column {ID_COLUMN!r} must be 0..{spec.rows - 1} in order.")
    for column in [LABEL_COLUMN, TRUE_LABEL_COLUMN, *features]:
        empty = np.flatnonzero(frame[column].isna().to_numpy())
        if empty.size:
            raise ValueError(f"{path}: column {column!r} is empty at rows {empty[:5].tolist()}.")
    if annotators and frame[annotators].notna().sum(axis=1).min() == 0:
        raise ValueError(f"{path}: some rows have no annotator rating.")
