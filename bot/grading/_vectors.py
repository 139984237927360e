"""TF-IDF vectors over character bigrams (CJK) and word unigrams / bigrams (Latin script).

The vocabulary and IDF come from the whole bank.  A reply's vector is a pair of numpy arrays
(feature indices, weights).  The references live in a dense feature x reference table (float32), so
that comparing a reply with its own question's references is two small gathers, and with every
reference (the off-topic check) one gather and one product.  References of questions from outside the
bank (drill probes) are plain dicts, compared with a short loop.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import repeat

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
SparseVector = dict[int, float]  # feature index -> weight, L2-normalised


class TfIdf:
    """IDF learnt from a list of documents (each a list of features), plus the reference table."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        df: dict[str, int] = {}
        for doc in documents:
            for feature in set(doc):
                df[feature] = df.get(feature, 0) + 1
        n = len(documents)
        self.vocab: dict[str, int] = {f: i for i, f in enumerate(sorted(df))}
        self.idf: FloatArray = np.array([math.log((n + 1) / (df[f] + 1)) + 1.0 for f in sorted(df)], dtype=np.float64)
        self.idf_unknown = math.log(n + 1) + 1.0
        self._table: npt.NDArray[np.float32] = np.zeros((len(self.vocab), 0), dtype=np.float32)
        self.n_refs = 0

    def vector(self, features: Sequence[str]) -> tuple[IntArray, FloatArray]:
        """Sparse L2-normalised vector as (indices, weights); unknown features only add to the norm."""
        if not features:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        # count the ids in a dict (cheaper than numpy's sort for a reply's few hundred features)
        tally = Counter(map(self.vocab.get, features, repeat(-1)))
        unknown = float(tally.pop(-1, 0))  # unknown features only add to the norm
        idx: IntArray = np.fromiter(tally, dtype=np.int64, count=len(tally))
        counts = np.fromiter(tally.values(), dtype=np.float64, count=len(tally))
        w = (1.0 + np.log(counts)) * self.idf[idx]
        norm = math.sqrt(float(w @ w) + unknown * self.idf_unknown**2)
        return idx, (w / norm if norm else w)

    def sparse(self, features: Sequence[str]) -> SparseVector:
        """The same vector as a dict (for references)."""
        idx, w = self.vector(features)
        return dict(zip(idx.tolist(), w.tolist(), strict=True))

    def set_references(self, refs: Sequence[SparseVector]) -> None:
        """Store reference vectors (already normalised) as a dense feature x reference table.

        About 24,000 features x 154 references in float32 is some 15 MB: gathering the reply's rows is
        several times faster than any sparse layout in numpy.
        """
        self.n_refs = len(refs)
        table = np.zeros((len(self.vocab), len(refs)), dtype=np.float32)
        for row, vec in enumerate(refs):
            for i, v in vec.items():
                table[i, row] = v
        self._table = table

    def similarity(self, idx: IntArray, w: FloatArray, ref: int) -> float:
        """Cosine similarity of one normalised vector with reference number `ref`."""
        if idx.size == 0:
            return 0.0
        return float(w @ self._table[idx, ref])

    def similarities(self, idx: IntArray, w: FloatArray) -> FloatArray:
        """Cosine similarity of one normalised vector with every reference."""
        if idx.size == 0 or self.n_refs == 0:
            return np.zeros(self.n_refs, dtype=np.float64)
        sims: FloatArray = w @ self._table[idx].astype(np.float64)
        return sims


def dot(idx: IntArray, w: FloatArray, ref: SparseVector) -> float:
    """Dot product of a vector given as arrays with one given as a dict."""
    get = ref.get
    return float(sum([x * get(i, 0.0) for i, x in zip(idx.tolist(), w.tolist(), strict=True)]))
