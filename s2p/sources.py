"""Data sources: bundled loaders named by the catalog, and a user's own CSV or parquet file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


class DataError(ValueError):
    """The input data cannot be used; the message names the problem."""


def diabetes() -> pd.DataFrame:
    """scikit-learn's bundled diabetes data in original units: 442 patients, 10 features, progression."""
    from sklearn.datasets import load_diabetes

    bunch = load_diabetes(scaled=False, as_frame=True)
    frame = bunch.frame.rename(columns={"target": "progression"})
    return frame.astype("float64")


def _bundled(loader: str, target: str) -> pd.DataFrame:
    """A scikit-learn bundled dataset with snake_case column names and an integer class column."""
    import re

    from sklearn import datasets

    frame = getattr(datasets, loader)(as_frame=True).frame
    frame.columns = [re.sub(r"[^a-z0-9]+", "_", str(c).lower()).strip("_") for c in frame.columns]
    frame = frame.rename(columns={"target": target})
    features = [c for c in frame.columns if c != target]
    return frame.astype({c: "float64" for c in features} | {target: "int64"})


def breast_cancer() -> pd.DataFrame:
    """569 breast masses, 30 nucleus measurements, diagnosis 0 malignant / 1 benign."""
    return _bundled("load_breast_cancer", "diagnosis")


def digits() -> pd.DataFrame:
    """1797 handwritten digits as 8x8 images of ink counts 0-16, one column per pixel."""
    return _bundled("load_digits", "digit")


def iris() -> pd.DataFrame:
    """150 iris flowers, 4 measurements in cm, species 0-2."""
    return _bundled("load_iris", "species")


def wine() -> pd.DataFrame:
    """178 wines, 13 chemical measurements, cultivar 0-2."""
    return _bundled("load_wine", "cultivar")


#: Where Debian's dataset-fashion-mnist package puts the files (`make install` installs it).
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                   "ankle boot")  # fmt: skip


def _idx(path: Path) -> np.ndarray:
    """An IDX file (the MNIST format): big-endian dimensions after a magic number, then uint8 data."""
    import gzip

    with gzip.open(path, "rb") as handle:
        data = handle.read()
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(dims))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion_mnist() -> pd.DataFrame:
    """All 70,000 Fashion-MNIST images (28x28, ink 0-1 as float32, stored flat) and their class 0-9."""
    missing = [name for name in ("train", "t10k") if not (FASHION_MNIST / f"{name}-images-idx3-ubyte.gz").exists()]
    if missing:
        raise DataError(
            f"Fashion-MNIST is not installed under {FASHION_MNIST}: `apt-get install dataset-fashion-mnist` "
            "(make install does it)"
        )
    images = np.concatenate([_idx(FASHION_MNIST / f"{name}-images-idx3-ubyte.gz") for name in ("train", "t10k")])
    labels = np.concatenate([_idx(FASHION_MNIST / f"{name}-labels-idx1-ubyte.gz") for name in ("train", "t10k")])
    pixels = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    return pd.DataFrame({"image": list(pixels), "label": labels.astype(np.int64)})


def digit_images() -> pd.DataFrame:
    """scikit-learn's 1797 handwritten digits as 8x8 images (ink 0-1, stored flat) and the digit."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return pd.DataFrame({"image": list(digits.data / 16.0), "digit": digits.target.astype(np.int64)})


def movie_reviews() -> pd.DataFrame:
    """10,070 movie-review sentences with a clear sentiment (datasets/NOTICE.md): text, 1 positive."""
    path = Path(__file__).resolve().parents[1] / "datasets" / "movie_reviews.tsv.gz"
    frame = pd.read_csv(path, sep="\t", dtype={"id": "int64", "score": "float64", "text": "string"})
    frame = frame[frame["score"].abs() > 0.5]
    return pd.DataFrame({"text": frame["text"].astype(object), "sentiment": (frame["score"] > 0).astype("int64")})


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
