"""TF-IDF vectors over character bigrams (CJK) and word unigrams / bigrams (Latin script).

The vocabulary and IDF come from the whole bank.  References are stored column-wise (per feature)
so that one reply is compared with every reference in a handful of numpy operations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import repeat

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class TfIdf:
    """IDF learnt from a list of documents (each a list of features), plus sparse reference vectors."""

    def __init__(self, documents: Sequence[Sequence[str]]) -> None:
        df: dict[str, int] = {}
        for doc in documents:
            for feature in set(doc):
                df[feature] = df.get(feature, 0) + 1
        n = len(documents)
        self.vocab: dict[str, int] = {f: i for i, f in enumerate(sorted(df))}
        self.idf: FloatArray = np.array(
            [math.log((n + 1) / (df[f] + 1)) + 1.0 for f in sorted(df)], dtype=np.float64
        )
        self.idf_unknown = math.log(n + 1) + 1.0
        self._ptr: IntArray = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        self._rows: IntArray = np.zeros(0, dtype=np.int64)
        self._vals: FloatArray = np.zeros(0, dtype=np.float64)
        self.n_refs = 0

    def weights(self, features: Sequence[str]) -> tuple[IntArray, FloatArray]:
        """Sparse L2-normalised vector: feature indices (sorted) and weights; unknown features only add to the norm."""
        if not features:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        ids = np.fromiter(map(self.vocab.get, features, repeat(-1)), dtype=np.int64, count=len(features))
        known = ids[ids >= 0]
        unknown = len(features) - known.size
        idx, counts = np.unique(known, return_counts=True)
        w = (1.0 + np.log(counts)) * self.idf[idx]
        norm = math.sqrt(float(w @ w) + unknown * self.idf_unknown**2)
        if norm == 0.0:
            return idx, w
        return idx, w / norm

    def set_references(self, refs: Sequence[tuple[IntArray, FloatArray]]) -> None:
        """Store reference vectors (already normalised) column-wise for fast comparison."""
        self.n_refs = len(refs)
        cols: list[list[tuple[int, float]]] = [[] for _ in range(len(self.vocab))]
        for row, (idx, w) in enumerate(refs):
            for i, v in zip(idx.tolist(), w.tolist(), strict=True):
                cols[i].append((row, v))
        lengths = np.fromiter((len(c) for c in cols), dtype=np.int64, count=len(cols))
        self._ptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)])
        self._rows = np.fromiter((r for c in cols for r, _ in c), dtype=np.int64, count=int(self._ptr[-1]))
        self._vals = np.fromiter((v for c in cols for _, v in c), dtype=np.float64, count=int(self._ptr[-1]))

    def similarities(self, idx: IntArray, w: FloatArray) -> FloatArray:
        """Cosine similarity of one normalised vector with every reference."""
        if idx.size == 0:
            return np.zeros(self.n_refs, dtype=np.float64)
        starts = self._ptr[idx]
        lengths = self._ptr[idx + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return np.zeros(self.n_refs, dtype=np.float64)
        offsets = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total)
        values = self._vals[offsets] * np.repeat(w, lengths)
        sims: FloatArray = np.bincount(self._rows[offsets], weights=values, minlength=self.n_refs).astype(np.float64)
        return sims
