"""Score primitives shared by the mining rules, the losses and the false-negative measurements."""

from __future__ import annotations

import torch

POS_REDUCTIONS = ("min", "max", "mean")
MARGIN_MODES = ("absolute", "relative")


def reference_score(pos_scores: torch.Tensor, reduce: str = "min") -> torch.Tensor:
    """One reference positive score per query, non-finite entries (NaN padding) ignored.

    Args:
        pos_scores: ``[Q, P]`` scores of the labelled positives (NaN padded).
        reduce: ``"min"`` (the least similar positive: the strictest threshold, as in
            sentence-transformers' ``mine_hard_negatives``), ``"max"`` or ``"mean"``.

    Returns:
        ``[Q]`` float; NaN for a query without any finite positive score (rules then keep every
        candidate of that query, since no comparison with NaN is true).
    """
    if reduce not in POS_REDUCTIONS:
        raise ValueError(f"pos_reduce must be one of {POS_REDUCTIONS}, got {reduce!r}")
    finite = torch.isfinite(pos_scores)  # [Q, P]
    if reduce == "mean":
        ref = torch.where(finite, pos_scores, 0.0).sum(1) / finite.sum(1).clamp(min=1)
    elif reduce == "min":
        ref = torch.where(finite, pos_scores, torch.inf).amin(dim=1)
    else:
        ref = torch.where(finite, pos_scores, -torch.inf).amax(dim=1)
    return torch.where(finite.any(dim=1), ref, torch.nan)


def at_or_above(
    scores: torch.Tensor, ref: torch.Tensor, margin: float = 0.0, mode: str = "absolute"
) -> torch.Tensor:
    """True where a teacher rates a candidate at or above the positive (minus a margin).

    The one rule behind the loss's guide mask and the teacher's false-negative estimate: ``c`` is
    flagged when ``s[c] >= s+ - margin`` (``absolute``) or ``s[c] >= s+ * (1 - margin)``
    (``relative``). Ties are flagged: a candidate rated exactly as the positive is a duplicate
    of it or a hidden relevant document of the same grade. NaN on either side flags nothing.

    Args:
        scores: ``[Q, K]`` teacher scores of the candidates.
        ref: ``[Q]`` or ``[Q, 1]`` the positive's score.
        margin: in the teacher's units (absolute) or a fraction of ``s+`` (relative).
        mode: ``"absolute"`` or ``"relative"``.

    Returns:
        ``[Q, K]`` bool.
    """
    if mode not in MARGIN_MODES:
        raise ValueError(f"margin mode must be one of {MARGIN_MODES}, got {mode!r}")
    ref = ref.reshape(-1, 1)
    threshold = ref - margin if mode == "absolute" else ref * (1 - margin)
    return scores >= threshold
