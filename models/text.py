"""Text to numbers, from scratch: tokenization and a sparse document-term count matrix.

Tokens are runs of two or more word characters, lower-cased (the pattern scikit-learn's
CountVectorizer uses by default, so both see the same words); the vocabulary is sorted and
keeps words seen in at least ``min_df`` training documents. Rows can be L2-normalized.

Models that read text or numbers (naive Bayes, the linear SVM) choose their form from the data
they are fitted on: ``form_of`` tells which, and ``TextOrNumbers`` does it for a reference library.
"""

from __future__ import annotations

import re

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin

TOKEN = re.compile(r"(?u)\b\w\w+\b")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text.lower())


def documents(X) -> list[str]:
    """The texts of X: a 1-D sequence of strings, or a one-column 2-D array of them."""
    X = np.asarray(X, dtype=object)
    if X.ndim == 2:
        if X.shape[1] != 1:
            raise ValueError(f"text models take one text column, got {X.shape[1]}")
        X = X[:, 0]
    texts = X.tolist()
    bad = [i for i, text in enumerate(texts) if not isinstance(text, str)]
    if bad:
        raise ValueError(f"row(s) {bad[:5]} are not text (got {type(texts[bad[0]]).__name__})")
    return texts


class Counts:
    """A fitted vocabulary; ``transform`` maps texts to a CSR matrix of token counts."""

    def __init__(self, texts: list[str], min_df: int = 1):
        document_frequency: dict[str, int] = {}
        for text in texts:
            for token in set(tokenize(text)):
                document_frequency[token] = document_frequency.get(token, 0) + 1
        kept = sorted(token for token, count in document_frequency.items() if count >= min_df)
        if not kept:
            raise ValueError(f"no word occurs in at least min_df={min_df} documents")
        self.vocabulary = {token: index for index, token in enumerate(kept)}

    def transform(self, texts: list[str], normalize: bool = False) -> sparse.csr_matrix:
        rows, columns = [], []
        for row, text in enumerate(texts):
            indices = [self.vocabulary[t] for t in tokenize(text) if t in self.vocabulary]
            rows += [row] * len(indices)
            columns += indices
        data = np.ones(len(rows))
        matrix = sparse.csr_matrix((data, (rows, columns)), shape=(len(texts), len(self.vocabulary)))
        matrix.sum_duplicates()
        if normalize:
            norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1))).ravel()
            matrix = sparse.diags(1.0 / np.where(norms > 0, norms, 1.0)) @ matrix
        return matrix.tocsr()


def text_column():
    """scikit-learn's vectorizers take a 1-D sequence of texts; the pipeline hands a one-column table."""
    import numpy as np
    from sklearn.preprocessing import FunctionTransformer

    return FunctionTransformer(np.ravel)


def form_of(X) -> str:
    """What a model that reads text or numbers is given: ``"text"`` (one column of strings, or a 1-D
    sequence of them) or ``"numbers"`` (numeric columns). Anything else is refused by name."""
    if sparse.issparse(X):
        return "numbers"
    X = np.asarray(X) if isinstance(X, np.ndarray) else np.asarray(X, dtype=object)
    if X.dtype.kind in "biuf":
        return "numbers"
    values = X.ravel().tolist()
    texts = sum(isinstance(value, str) for value in values)
    if texts == 0:
        return "numbers"
    if texts < len(values):
        raise ValueError(
            f"X mixes text and numbers ({texts} of {len(values)} values are text): this model reads "
            "one text column, or numeric columns only"
        )
    if X.ndim == 2 and X.shape[1] != 1:
        raise ValueError(f"text models take one text column, got {X.shape[1]}")
    return "text"


class TextOrNumbers(ClassifierMixin, BaseEstimator):
    """Glue for a reference library: fits ``text`` on a text column and ``numbers`` on numeric
    columns (models.text.form_of), and answers through the one it fitted (``estimator_``)."""

    def __init__(self, text, numbers):
        self.text = text
        self.numbers = numbers

    def fit(self, X, y):
        from sklearn.base import clone

        self.form_ = form_of(X)
        self.estimator_ = clone(self.text if self.form_ == "text" else self.numbers).fit(X, y)
        self.classes_ = self.estimator_.classes_
        return self

    def _fitted(self):
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self, "estimator_")
        return self.estimator_

    def predict(self, X):
        return self._fitted().predict(X)

    def predict_proba(self, X):
        return self._fitted().predict_proba(X)

    def decision_function(self, X):
        return self._fitted().decision_function(X)

    def __getitem__(self, index):
        """The fitted estimator's steps, when it is a pipeline: ``reference[:-1]`` transforms as it does."""
        return self._fitted()[index]
