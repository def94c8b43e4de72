"""Dense scorer: an encoder embeds queries and corpus, a searcher finds the nearest documents."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch

from zelo.mining.base import ScorerBase
from zelo.retrieval import KINDS, searcher_for
from zelo.retrieval.cache import cache_key, cached_encode
from zelo.types import MiningInput

if TYPE_CHECKING:
    from zelo.models.encoders import Encoder

log = logging.getLogger(__name__)

# embedding matrices kept in memory: corpus and queries of the last two encoder states
MEMO_SIZE = 4
SCORE_CHUNK_ELEMENTS = 1 << 22  # gathered document floats per chunk of score(): 16 MiB


class DenseScorer(ScorerBase):
    """Inner-product relevance from an encoder (a fixed teacher, or the student itself).

    Args:
        encoder: the scoring encoder; ``None`` scores with the current student
            (``MiningInput.student``), i.e. self-mining.
        batch_size: texts per forward pass when encoding.
        cache_dir: on-disk embedding cache shared across runs (``None``: off).
        index: search kind (:func:`zelo.retrieval.searcher_for`): ``flat`` (exact), ``ivf``,
            ``hnsw``; an ``ivf``/``hnsw`` index is trained once and cached in ``cache_dir``.
        use_gpu: ``"auto"``, ``True`` or ``False`` for the search.
        device: where a fixed scoring encoder runs: ``"auto"`` (CUDA when available), ``"cpu"``,
            ``"cuda"``. The student (``encoder=None``) stays where the trainer put it.
    """

    name = "dense"
    softmax_temperature = 0.05  # cosine similarity
    cosine_scores = True  # scores in [-1, 1]: a margin of 1 or more finds nothing

    def __init__(
        self,
        encoder: Encoder | None = None,
        batch_size: int = 64,
        cache_dir: str | None = None,
        index: str = "flat",
        use_gpu: str | bool = "auto",
        device: str = "auto",
    ) -> None:
        if index not in KINDS:
            raise ValueError(f"index must be one of {KINDS}, got {index!r}")
        self.encoder = encoder
        self.batch_size = batch_size
        self.cache_dir = cache_dir
        self.index = index
        self.use_gpu = use_gpu
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        self.device = device
        self._memo: OrderedDict[str, torch.Tensor] = OrderedDict()

    def _encoder_for(self, inp: MiningInput) -> Encoder:
        if self.encoder is not None:
            return self.encoder.to(self.device)
        encoder = inp.student
        if encoder is None:
            raise ValueError(
                "DenseScorer(encoder=None) scores with the student; inp.student is None"
            )
        return encoder

    def _embed(
        self, encoder: Encoder, fingerprint: str, texts: list[str], is_query: bool
    ) -> tuple[str, torch.Tensor]:
        """Key and embeddings ``[len(texts), D]``, memoised per (fingerprint, side, texts)."""
        key = cache_key(fingerprint, texts, is_query)
        if key in self._memo:
            self._memo.move_to_end(key)
            return key, self._memo[key]
        emb = cached_encode(encoder, texts, self.cache_dir, self.batch_size, is_query, True)
        self._memo[key] = emb
        while len(self._memo) > MEMO_SIZE:
            self._memo.popitem(last=False)
        return key, emb

    def _keyed_embeddings(self, inp: MiningInput) -> tuple[torch.Tensor, str, torch.Tensor]:
        """Query embeddings ``[Q, D]``, the corpus key and corpus embeddings ``[N, D]``."""
        encoder = self._encoder_for(inp)
        fingerprint = encoder.fingerprint()
        doc_key, docs = self._embed(encoder, fingerprint, inp.doc_texts, is_query=False)
        _, queries = self._embed(encoder, fingerprint, inp.query_texts, is_query=True)
        return queries, doc_key, docs

    def embeddings(self, inp: MiningInput) -> tuple[torch.Tensor, torch.Tensor]:
        """Query ``[Q, D]`` and corpus ``[N, D]`` embeddings of the scoring encoder."""
        queries, _, docs = self._keyed_embeddings(inp)
        return queries, docs

    def column_scorer(
        self, inp: MiningInput
    ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        """Inner products ``(query_index [B], cand_ids [C]) -> [B, C]`` from embeddings taken once."""
        queries, docs = self.embeddings(inp)

        def columns(query_index: torch.Tensor, cand_ids: torch.Tensor) -> torch.Tensor:
            out = queries[query_index].float() @ docs[cand_ids.clamp(min=0)].float().T  # [B, C]
            return out.masked_fill((cand_ids < 0)[None, :], float("nan"))

        return columns

    def rank(self, inp: MiningInput, depth: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Top-``depth`` documents per query by inner product: ids ``[Q, K]``, scores ``[Q, K]``."""
        queries, doc_key, docs = self._keyed_embeddings(inp)
        searcher = searcher_for(
            docs, doc_key, kind=self.index, use_gpu=self.use_gpu, cache_dir=self.cache_dir
        )
        scores, ids = searcher.search(queries, depth)
        return ids, scores

    def score(
        self, inp: MiningInput, doc_ids: torch.Tensor, chunk: int | None = None
    ) -> torch.Tensor:
        """Inner products for ``doc_ids [Q, P]`` (``-1`` padded) -> ``[Q, P]`` (NaN padded).

        Rows are scored in chunks of ``chunk`` queries (default: about
        :data:`SCORE_CHUNK_ELEMENTS` gathered floats), never as one ``[Q, P, D]`` tensor.
        """
        queries, docs = self.embeddings(inp)
        safe = doc_ids.clamp(min=0)
        out = torch.empty(doc_ids.shape, dtype=torch.float32)  # [Q, P]
        step = chunk or max(1, SCORE_CHUNK_ELEMENTS // max(doc_ids.shape[1] * docs.shape[1], 1))
        for q0 in range(0, len(doc_ids), step):
            rows = slice(q0, q0 + step)
            gathered = docs[safe[rows]].float()  # [c, P, D]
            out[rows] = torch.bmm(gathered, queries[rows].float().unsqueeze(2)).squeeze(2)
        return torch.where(doc_ids >= 0, out, torch.full_like(out, float("nan")))
