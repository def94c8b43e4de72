"""Cross-encoder scorer: a sequence-classification transformer rereads each (query, document) pair.

A first-stage scorer proposes ``candidates`` documents per query; the cross-encoder rescores
them. Any ``AutoModelForSequenceClassification`` works (name or local folder): with one output
the score is that logit, with two it is ``logit[1] - logit[0]`` (the log-odds of "relevant").

References:
    Nogueira and Cho, Passage Re-ranking with BERT, arXiv:1901.04085.
"""

from __future__ import annotations

import logging

import torch
from tqdm.auto import tqdm

from zelo.errors import ConfigError
from zelo.mining.base import ScorerBase
from zelo.mining.scorers.candidates import sort_candidates
from zelo.mining.scorers.hf_models import load_model, resolve_device
from zelo.types import MiningInput, Scorer

log = logging.getLogger(__name__)


def relevance_logit(logits: torch.Tensor) -> torch.Tensor:
    """``[B, L]`` classifier logits -> ``[B]`` relevance: the logit (L=1) or l1 - l0 (L=2)."""
    if logits.shape[-1] == 1:
        return logits[:, 0]
    if logits.shape[-1] == 2:
        return logits[:, 1] - logits[:, 0]
    raise ConfigError(
        f"miner.scorer.model has {logits.shape[-1]} outputs; a cross-encoder needs 1 or 2"
    )


class CrossEncoderScorer(ScorerBase):
    """Reranks a first stage's top ``candidates`` with a cross-encoder.

    Args:
        model: Hugging Face name or local folder of a sequence-classification model.
        first_stage: scorer that proposes the candidates (e.g. the MiniLM dense scorer).
        candidates: documents reranked per query; :meth:`rank` returns at most this many.
        batch_size: (query, document) pairs per forward pass.
        max_length: token limit of a pair (the longer text is truncated first).
        pretrained: load the weights; ``False`` builds the architecture with random weights.
            The model is loaded on first use, so a missing model fails at mining time.
        config_overrides: config attributes to change before building (e.g. ``num_layers``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...

    References:
        Nogueira and Cho, arXiv:1901.04085.
    """

    name = "cross_encoder"
    softmax_temperature = 1.0  # relevance logits

    def __init__(
        self,
        model: str,
        first_stage: Scorer,
        candidates: int = 100,
        batch_size: int = 32,
        max_length: int = 512,
        pretrained: bool = True,
        config_overrides: dict | None = None,
        device: str = "auto",
    ) -> None:
        if candidates < 1:
            raise ValueError(f"miner.scorer.candidates must be >= 1, got {candidates}")
        self.model_name = str(model)
        self.device = resolve_device(device)
        self.pretrained = pretrained
        self.config_overrides = dict(config_overrides or {})
        self._loaded: tuple | None = None
        self.first_stage = first_stage
        self.candidates = candidates
        self.batch_size = batch_size
        self.max_length = max_length
        self.reads_judgments = first_stage.reads_judgments

    def load(self) -> tuple:
        """Model and tokenizer, loaded on first use (instantiating the config loads nothing)."""
        if self._loaded is None:
            from transformers import AutoModelForSequenceClassification

            model, tokenizer = load_model(
                AutoModelForSequenceClassification,
                self.model_name,
                "miner.scorer.model",
                self.pretrained,
                self.config_overrides,
            )
            self._loaded = (model.to(self.device), tokenizer)
        return self._loaded

    def pair_scores(self, queries: list[str], docs: list[str]) -> torch.Tensor:
        """Relevance ``[M]`` (float32, CPU) of M (query, document) text pairs, batched."""
        model, tokenizer = self.load()
        out = torch.empty(len(queries))
        order = sorted(range(len(docs)), key=lambda i: len(docs[i]), reverse=True)
        bar = tqdm(range(0, len(order), self.batch_size), desc="cross-encoder", leave=False)
        with torch.inference_mode():
            for start in bar:
                idx = order[start : start + self.batch_size]
                batch = tokenizer(
                    [queries[i] for i in idx],
                    [docs[i] for i in idx],
                    padding=True,
                    truncation="longest_first",
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                logits = model(**batch).logits.float().cpu()  # [B, L]
                out[torch.as_tensor(idx)] = relevance_logit(logits)
        return out

    def score(self, inp: MiningInput, doc_ids: torch.Tensor) -> torch.Tensor:
        """Cross-encoder scores of ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN padded)."""
        out = torch.full(doc_ids.shape, float("nan"))
        rows, cols = (doc_ids >= 0).nonzero(as_tuple=True)
        if rows.numel():
            queries = [inp.query_texts[q] for q in rows.tolist()]
            docs = [inp.doc_texts[d] for d in doc_ids[rows, cols].tolist()]
            out[rows, cols] = self.pair_scores(queries, docs)
        return out

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The first stage's top ``candidates`` reranked: ids, scores ``[Q, depth]``
        (``-1`` / ``-inf`` beyond ``candidates``)."""
        ids, _ = self.first_stage.rank(inp, self.candidates)  # [Q, C]
        log.info("cross-encoder %s: reranking %d pairs", self.model_name, int((ids >= 0).sum()))
        return sort_candidates(ids, self.score(inp, ids), depth)
