"""Data sources: bundled loaders named by the catalog, and a user's own CSV or parquet file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class DataError(ValueError):
    """The input data cannot be used; the message names the problem."""


def diabetes() -> pd.DataFrame:
    """scikit-learn's bundled diabetes data in original units: 442 patients, 10 features, progression."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False, as_frame=True)
    frame = bunch.frame.rename(columns={"target": "progression"})
    return frame.astype("float64")


def read_table(path: Path) -> pd.DataFrame:
    """A user's CSV or parquet file, or a DataError that says why it cannot be read."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if not path.is_file():
        raise DataError(f"data path is not a file: {path}")
    if path.stat().st_size == 0:
        raise DataError(f"data file is empty: {path}")
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            frame = pd.read_parquet(path)
        elif suffix in (".csv", ".txt"):
            _check_csv_header(path)
            frame = pd.read_csv(path)
        else:
            raise DataError(f"unsupported data file type {suffix!r} (use .csv or .parquet): {path}")
    except DataError:
        raise
    except UnicodeDecodeError as error:
        raise DataError(f"{path} is not UTF-8 text: {error.reason} at byte {error.start}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, OSError, ValueError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DataError(f"cannot read {path}: {first_line}") from None
    if frame.empty:
        raise DataError(f"{path} has a header but no rows")
    return frame


def _check_csv_header(path: Path) -> None:
    """pandas silently renames repeated header names (a, a.1): refuse them instead."""
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle), [])
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise DataError(f"{path}: repeated column name(s) in the header: {', '.join(repeated)}")


def load(loader: str) -> pd.DataFrame:
    from s2p.imports import import_object

    return import_object(loader)()
