"""TF-IDF vectors over character bigrams (CJK) and word unigrams / bigrams (Latin script).

The vocabulary and IDF come from the whole bank.  A reply's vector has a few dozen entries, so it is a
plain dict (feature index -> weight): building it and taking its dot product with the question's own
two references is cheaper in Python than in numpy, whose per-call overhead dominates at that size.
Comparing one reply with every reference (the off-topic check) is where numpy pays: the references
are a dense feature x reference table, so that it takes one gather and one product.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
SparseVector = dict[int, float]  # feature index -> weight, L2-normalised


class TfIdf:
    """IDF learnt from a list of documents (each a list of features), plus sparse reference vectors."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        df: dict[str, int] = {}
        for doc in documents:
            for feature in set(doc):
                df[feature] = df.get(feature, 0) + 1
        n = len(documents)
        self.vocab: dict[str, int] = {f: i for i, f in enumerate(sorted(df))}
        self.idf: list[float] = [math.log((n + 1) / (df[f] + 1)) + 1.0 for f in sorted(df)]
        self.idf_unknown = math.log(n + 1) + 1.0
        self._table: npt.NDArray[np.float32] = np.zeros((len(self.vocab), 0), dtype=np.float32)
        self.n_refs = 0

    def weights(self, features: Sequence[str]) -> SparseVector:
        """Sparse L2-normalised vector; unknown features only add to the norm."""
        vocab = self.vocab
        idf = self.idf
        vec: SparseVector = {}
        unknown = 0
        for f, c in Counter(features).items():
            i = vocab.get(f)
            if i is None:
                unknown += c
            else:
                vec[i] = (1.0 + math.log(c)) * idf[i]
        norm = math.sqrt(sum([w * w for w in vec.values()]) + unknown * self.idf_unknown**2)
        if norm == 0.0:
            return vec
        return {i: w / norm for i, w in vec.items()}

    def set_references(self, refs: Sequence[SparseVector]) -> None:
        """Store reference vectors (already normalised) as a dense feature x reference table.

        About 24,000 features x 154 references in float32 is some 15 MB: gathering the reply's few
        dozen rows and one small product is several times faster than any sparse layout in numpy.
        """
        self.n_refs = len(refs)
        table = np.zeros((len(self.vocab), len(refs)), dtype=np.float32)
        for row, vec in enumerate(refs):
            for i, v in vec.items():
                table[i, row] = v
        self._table = table

    def similarities(self, vec: SparseVector) -> FloatArray:
        """Cosine similarity of one normalised vector with every reference."""
        if not vec or self.n_refs == 0:
            return np.zeros(self.n_refs, dtype=np.float64)
        idx = np.fromiter(vec.keys(), dtype=np.int64, count=len(vec))
        w = np.fromiter(vec.values(), dtype=np.float32, count=len(vec))
        sims: FloatArray = (w @ self._table[idx]).astype(np.float64)
        return sims


def dot(a: SparseVector, b: SparseVector) -> float:
    """Dot product of two sparse vectors."""
    return sum([a[i] * b[i] for i in a.keys() & b.keys()])
