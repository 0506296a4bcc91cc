"""How far a quantized classifier's answers move from fp32's, judged the way that matters for a trained model:
is the top-1 class the same, and where it is not, was fp32 itself sure?

The calls a learner already knows (``session.run`` on both models, ``np.argmax``), plus:

* :func:`compare_logits` turns two ``(N, classes)`` logit arrays into an :class:`Agreement`: top-1 agreement
  overall and where fp32 was confident (its softmax probability of the top class minus that of the runner-up,
  the *margin*, at least :data:`CONFIDENT_MARGIN`), the share of images whose int8 top-1 is among fp32's top 5,
  the signal-to-quantization-noise ratio of the logits (SQNR, dB) and their cosine similarity;
* :meth:`Agreement.columns` gives the bench's int8 columns (``top1_agreement``, ``top1_agreement_confident``,
  ``top5_contains``, ``sqnr_db``, ``n``);
* :func:`agreement_by_margin` bins the images by fp32's margin, and :func:`plot_agreement_by_margin` draws it:
  int8 changes the answer where fp32 was unsure, and keeps it where fp32 was sure.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "CONFIDENT_MARGIN",
    "MARGIN_BINS",
    "Agreement",
    "MarginBin",
    "agreement_by_margin",
    "compare_logits",
    "margins",
    "plot_agreement_by_margin",
]

#: fp32 counts as confident on an image when its top-1 probability beats the runner-up's by at least this much.
CONFIDENT_MARGIN = 0.2
#: Edges of the margin bins of :func:`agreement_by_margin` (probability differences, 0..1).
MARGIN_BINS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.4, 0.7, 1.0)


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _check(reference: np.ndarray, candidate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ref = np.asarray(reference, dtype=np.float64)
    cand = np.asarray(candidate, dtype=np.float64)
    if ref.ndim != 2 or ref.shape != cand.shape or ref.shape[0] == 0 or ref.shape[1] < 2:
        raise ValueError(
            f"compare logits shaped (N, classes) with N >= 1 and at least 2 classes, the same for both models; "
            f"got {ref.shape} and {cand.shape}"
        )
    return ref, cand


def margins(logits: np.ndarray) -> np.ndarray:
    """Per image, the softmax probability of the top class minus that of the second: 0 = a tie, 1 = certain."""
    probabilities = np.sort(_softmax(np.asarray(logits, dtype=np.float64)), axis=1)
    margin: np.ndarray = probabilities[:, -1] - probabilities[:, -2]
    return margin


@dataclass(frozen=True)
class Agreement:
    """A quantized model's logits against fp32's on ``n`` images.

    ``top1_agreement``: share with the same top-1 class; ``top1_agreement_confident``: the same among the
    ``n_confident`` images where fp32's margin is at least ``confident_margin`` (NaN when there are none);
    ``top5_contains``: share whose quantized top-1 is in fp32's top 5 (top ``k`` for fewer classes);
    ``sqnr_db``: 10·log10(Σ fp32² / Σ (quantized − fp32)²) over all logits (higher is cleaner);
    ``cosine``: mean cosine similarity of the two logit vectors, image by image."""

    n: int
    top1_agreement: float
    n_confident: int
    top1_agreement_confident: float
    top5_contains: float
    sqnr_db: float
    cosine: float
    confident_margin: float = CONFIDENT_MARGIN

    def columns(self) -> dict[str, float | int]:
        """The bench's columns for an int8 row (rounded): ``top1_agreement``, ``top1_agreement_confident``,
        ``top5_contains``, ``sqnr_db``, ``n``."""
        return {
            "top1_agreement": round(self.top1_agreement, 4),
            "top1_agreement_confident": round(self.top1_agreement_confident, 4),
            "top5_contains": round(self.top5_contains, 4),
            "sqnr_db": round(self.sqnr_db, 1),
            "n": self.n,
        }

    def __str__(self) -> str:
        return (
            f"top-1 agreement {self.top1_agreement:.1%} on {self.n} images; "
            f"{self.top1_agreement_confident:.1%} on the {self.n_confident} where fp32's margin >= "
            f"{self.confident_margin:g}; int8 top-1 in fp32's top 5: {self.top5_contains:.1%}; "
            f"logits SQNR {self.sqnr_db:.1f} dB, cosine {self.cosine:.4f}"
        )


def compare_logits(
    reference: np.ndarray, candidate: np.ndarray, confident_margin: float = CONFIDENT_MARGIN
) -> Agreement:
    """An :class:`Agreement` of ``candidate`` (the int8 model's logits) against ``reference`` (fp32's), both
    ``(N, classes)``. Raises ``ValueError`` for mismatched or empty arrays."""
    ref, cand = _check(reference, candidate)
    ref_top1, cand_top1 = ref.argmax(1), cand.argmax(1)
    same = ref_top1 == cand_top1
    confident = margins(ref) >= confident_margin
    k = min(5, ref.shape[1])
    top_k = np.argsort(-ref, axis=1, kind="stable")[:, :k]
    noise = float(((cand - ref) ** 2).sum())
    signal = float((ref**2).sum())
    sqnr = math.inf if noise == 0 else (10 * math.log10(signal / noise) if signal > 0 else -math.inf)
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cosine = float(np.mean(np.where(norms > 0, (ref * cand).sum(1) / np.where(norms > 0, norms, 1), 0.0)))
    return Agreement(
        n=len(ref),
        top1_agreement=float(same.mean()),
        n_confident=int(confident.sum()),
        top1_agreement_confident=float(same[confident].mean()) if confident.any() else math.nan,
        top5_contains=float((top_k == cand_top1[:, None]).any(1).mean()),
        sqnr_db=sqnr,
        cosine=cosine,
        confident_margin=confident_margin,
    )


@dataclass(frozen=True)
class MarginBin:
    """Images whose fp32 margin is in ``[low, high)`` (the last bin includes 1.0): how many, and how many of them
    keep their top-1 class in the quantized model."""

    low: float
    high: float
    n: int
    agree: int

    @property
    def agreement(self) -> float:
        """``agree / n`` (NaN for an empty bin)."""
        return self.agree / self.n if self.n else math.nan


def agreement_by_margin(
    reference: np.ndarray, candidate: np.ndarray, edges: tuple[float, ...] = MARGIN_BINS
) -> tuple[MarginBin, ...]:
    """Top-1 agreement per bin of fp32's margin (:func:`margins`), bins given by ``edges``."""
    ref, cand = _check(reference, candidate)
    m = margins(ref)
    same = ref.argmax(1) == cand.argmax(1)
    bins = []
    for i, (low, high) in enumerate(itertools.pairwise(edges)):
        inside = (m >= low) & ((m < high) if i < len(edges) - 2 else (m <= high))
        bins.append(MarginBin(low, high, int(inside.sum()), int(same[inside].sum())))
    return tuple(bins)


def plot_agreement_by_margin(bins: tuple[MarginBin, ...], title: str = "", ax: Any = None) -> Figure:
    """Bars of top-1 agreement per fp32-margin bin, each labelled ``agree/n``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.4))
    labels = [f"{b.low:g}–{b.high:g}" for b in bins]
    values = [100 * b.agreement if b.n else 0.0 for b in bins]
    bars = ax.bar(labels, values, color=["#c44e52" if v < 100 else "#55a868" for v in values])
    for bar, b in zip(bars, bins, strict=True):
        ax.annotate(
            f"{b.agree}/{b.n}",
            (bar.get_x() + bar.get_width() / 2, bar.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_ylim(0, 112)
    ax.set_xlabel("fp32's margin: P(top-1) − P(top-2)")
    ax.set_ylabel("int8 top-1 = fp32 top-1, %")
    ax.set_title(title or "int8 against fp32, by how sure fp32 was")
    ax.figure.tight_layout()
    figure: Figure = ax.figure
    return figure
