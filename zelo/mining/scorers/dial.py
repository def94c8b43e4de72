"""The hardness dial: one knob walks noise -> a real scorer -> the full judgments.

``intelligence`` x in ``[0, 1]`` sets the measured ``miner/ndcg@10`` of the ranking to
``r0 + x (1 - r0)`` (``r0``: noise alone), as the oracle dial does, but through the base scorer:

- ``x <= x_b`` mixes noise and the base scorer, ``s = λ z + (1 - λ) ε``, where ``z`` is the base
  score standardised per query and ``x_b = (r_b - r0) / (1 - r0)`` is where the base scorer's own
  nDCG@10 ``r_b`` sits; at ``x = x_b`` the ranking *is* the base scorer's.
- ``x > x_b`` pushes the judged documents up, ``s = z + κ g`` (``g``: grade over the query's top
  grade), with ``κ`` from 0 (the base scorer) to large enough that every judged document comes
  first in grade order (x = 1).

Mid-dial negatives are therefore the base scorer's real near-misses: hard true negatives plus the
false negatives it really finds. Only the top segment pushes toward hidden positives. Each
segment's weight is found by bisection with the noise held fixed, as in :mod:`zelo.mining.scorers.oracle`.

A control, not a method: the calibration (and the top segment) read the full judgments of the
training queries.

References:
    Moreira et al., NV-Retriever, arXiv:2407.15831 (hard negatives and their false negatives).
"""

from __future__ import annotations

import logging

import torch

from zelo.eval.metrics import ideal_dcg
from zelo.mining.scorers.candidates import input_key
from zelo.mining.scorers.oracle import (
    NOISES,
    DialBase,
    bisect,
    dense_ndcg,
    grade_matrix,
    noise_matrix,
)
from zelo.types import MiningInput, Scorer

log = logging.getLogger(__name__)


def standardise_rows(ids: torch.Tensor, scores: torch.Tensor, n: int) -> torch.Tensor:
    """A base scorer's top-K ``(ids, scores) [Q, K]`` as z-scores over the whole corpus ``[Q, N]``.

    Each row is standardised by the mean and std of its K scores; documents outside the top K get
    the row's lowest z-score minus one (below every ranked document, all tied).
    """
    valid = ids >= 0
    s = scores.double().masked_fill(~valid, float("nan"))
    mean = s.nanmean(dim=1, keepdim=True)
    std = ((s - mean).square().nanmean(dim=1, keepdim=True)).sqrt().clamp(min=1e-12)
    z = ((s - mean) / std).nan_to_num(float("inf"))  # padding sorts out of the min below
    floor = z.amin(dim=1, keepdim=True) - 1.0  # [Q, 1]
    out = floor.expand(len(ids), n + 1).clone()  # [Q, N + 1]: padding lands in the last column
    out.scatter_(1, ids.masked_fill(~valid, n), z.masked_fill(~valid, 0.0))
    return out[:, :n]


class DialCalibration:
    """The dial's two segments on one input, all matrices ``[Q, N]`` float64.

    Args:
        z: the base scorer, standardised (:func:`standardise_rows`).
        gain: grades over each query's top grade.
        noise: seeded noise.
        grades: raw grades (the nDCG gains).
    """

    def __init__(
        self, z: torch.Tensor, gain: torch.Tensor, noise: torch.Tensor, grades: torch.Tensor
    ):
        self.z, self.gain, self.noise, self.grades = z, gain, noise, grades
        self.ideal = ideal_dcg(grades, 10)
        span = float(z.amax() - z.amin()) if z.numel() else 1.0
        self.big = (span + 1.0) * 1e3  # a weight that puts every judged document first
        self.r0 = self.ndcg(self.mix_noise(0.0))
        self.r_base = self.ndcg(self.z)
        self.x_base = min(max((self.r_base - self.r0) / max(1.0 - self.r0, 1e-12), 0.0), 1.0)

    def ndcg(self, scores: torch.Tensor) -> float:
        return dense_ndcg(scores, self.grades, self.ideal)

    def mix_noise(self, lam: float) -> torch.Tensor:
        return lam * self.z + (1.0 - lam) * self.noise

    def push_judged(self, t: float) -> torch.Tensor:
        kappa = self.big if t >= 1.0 else t / (1.0 - t)
        return self.z + kappa * self.gain

    def scores(self, x: float) -> tuple[torch.Tensor, dict[str, float]]:
        """Scores at intelligence ``x`` and the figures of the calibration."""
        target = self.r0 + x * (1.0 - self.r0)
        if x <= self.x_base:
            lam = (
                1.0 if x >= self.x_base else bisect(lambda t: self.ndcg(self.mix_noise(t)), target)
            )
            lam = 0.0 if x <= 0.0 else lam
            out, weight, segment = self.mix_noise(lam), lam, 0.0
        else:
            t = 1.0 if x >= 1.0 else bisect(lambda u: self.ndcg(self.push_judged(u)), target)
            out, weight, segment = self.push_judged(t), t, 1.0
        figures = {
            "dial_target": target,
            "dial_achieved": self.ndcg(out),
            "dial_noise_ndcg": self.r0,
            "dial_base_ndcg": self.r_base,
            "dial_base_x": self.x_base,
            "dial_segment": segment,
            "dial_weight": weight,
        }
        return out, figures


class DialScorer(DialBase):
    """CONTROL: noise, a base scorer and the full judgments on one calibrated knob.

    Args:
        base: the real scorer in the middle of the dial (MiniLM by default in the config).
        intelligence: x in ``[0, 1]``; ``miner/ndcg@10`` lands at ``r0 + x (1 - r0)``.
        noise: ``"gaussian"``, ``"uniform"`` or ``"gumbel"``.
        seed_offset: added to the mining seed for the noise draws.
        pool: documents the base scorer ranks per query; the rest sit below them, tied.
    """

    name = "dial"
    softmax_temperature = 1.0  # z-scores

    def __init__(
        self,
        base: Scorer,
        intelligence: float = 0.5,
        noise: str = "gaussian",
        seed_offset: int = 0,
        pool: int = 1000,
    ) -> None:
        if noise not in NOISES:
            raise ValueError(f"miner.scorer.noise must be one of {NOISES}, got {noise!r}")
        if pool < 1:
            raise ValueError(f"miner.scorer.pool must be >= 1, got {pool}")
        self.base = base
        self.intelligence = intelligence
        self.noise = noise
        self.seed_offset = seed_offset
        self.pool = pool
        self._figures: dict[str, float] = {}
        self._calibration: tuple[str, DialCalibration] | None = None
        self._memo: tuple[str, torch.Tensor] | None = None

    def calibration(self, inp: MiningInput) -> DialCalibration:
        """The input's segments (base ranking, noise, grades), computed once per input."""
        if inp.judgments is None:
            raise ValueError("miner=dial needs the full judgments (MiningInput.judgments)")
        key = input_key(inp)
        if self._calibration is None or self._calibration[0] != key:
            n = len(inp.doc_texts)
            ids, scores = self.base.rank(inp, min(self.pool, n))
            grades = grade_matrix(inp.judgments, n)
            gain = grades / grades.amax(dim=1, keepdim=True).clamp(min=1e-12)
            noise = noise_matrix(inp.seed + self.seed_offset, len(inp.query_texts), n, self.noise)
            self._calibration = (
                key,
                DialCalibration(standardise_rows(ids, scores, n), gain, noise, grades),
            )
        return self._calibration[1]

    def scores(self, inp: MiningInput) -> torch.Tensor:
        """Dial scores ``[Q, N]`` (float64) of every document; memoised per input and knob."""
        key = f"{input_key(inp)}|{self.intelligence!r}"
        if self._memo is None or self._memo[0] != key:
            out, self._figures = self.calibration(inp).scores(self.intelligence)
            log.info(
                "dial: x %.3f -> nDCG@10 %.4f (target %.4f); noise alone %.4f, base alone %.4f "
                "(x_b %.3f)",
                self.intelligence,
                self._figures["dial_achieved"],
                self._figures["dial_target"],
                self._figures["dial_noise_ndcg"],
                self._figures["dial_base_ndcg"],
                self._figures["dial_base_x"],
            )
            self._memo = (key, out)
        return self._memo[1]

    def report(self) -> dict[str, float]:
        return dict(self._figures)
