"""The static-embedding student: a bag of token vectors initialised from a transformer."""

from __future__ import annotations

import copy
import itertools
import logging
import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from zelo.models.encoders import Encoder, resolve_model_path

log = logging.getLogger(__name__)

_RANDOM_INIT_STD = 0.02  # std of a randomly initialised static embedding table


def _word_embeddings(folder: str) -> torch.Tensor:
    """The input word-embedding table ``[V, D]`` of a transformer checkpoint folder."""
    from safetensors.torch import load_file

    weights = load_file(str(Path(folder) / "model.safetensors"))
    keys = [k for k in weights if k.endswith("embeddings.word_embeddings.weight")]
    if len(keys) != 1:
        raise KeyError(f"no unique word-embedding table in {folder}: {keys}")
    return weights[keys[0]].float()


class StaticEncoder(Encoder):
    """A static-embedding student: the mean of per-token vectors over WordPiece tokens.

    Tokens come from the MiniLM WordPiece tokenizer (or the ``init_from`` folder's), without
    [CLS]/[SEP] when ``drop_special_tokens``; padding never counts. This is the computation of
    sentence-transformers' ``StaticEmbedding`` (an ``nn.EmbeddingBag`` in mean mode) + Normalize.

    Args:
        init_from: transformer folder (or ``"minilm"``) whose input word embeddings initialise the
            table; ``None`` draws it from N(0, 0.02^2) (global torch RNG) with ``dim`` columns.
        max_length: token limit for documents (tokens averaged, special tokens included if kept).
        query_max_length: token limit for queries (defaults to ``max_length``).
        normalize: L2-normalise the output.
        sparse: sparse gradients for the table (train it with ``torch.optim.SparseAdam``).
        drop_special_tokens: leave [CLS]/[SEP] out of the mean (literal "[SEP]" in a text still
            counts, as in ``StaticEmbedding``).
        dim: embedding width; required when ``init_from`` is ``None``.
    """

    def __init__(
        self,
        init_from: str | None = "minilm",
        max_length: int = 256,
        query_max_length: int | None = None,
        normalize: bool = True,
        sparse: bool = False,
        drop_special_tokens: bool = True,
        dim: int | None = None,
    ) -> None:
        super().__init__(max_length, query_max_length, normalize)
        from tokenizers import Tokenizer

        folder = resolve_model_path(init_from if init_from is not None else "minilm")
        self.tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.pad_id = self.tokenizer.token_to_id("[PAD]") or 0
        self.init_from = init_from
        self.drop_special_tokens = drop_special_tokens
        vocab = self.tokenizer.get_vocab_size()
        if init_from is None:
            if dim is None:
                raise ValueError("StaticEncoder(init_from=None) needs dim")
            weight = torch.randn(vocab, dim) * _RANDOM_INIT_STD
        else:
            weight = _word_embeddings(folder).float()
            if dim is not None and dim != weight.shape[1]:
                raise ValueError(f"dim={dim} but {folder} has {weight.shape[1]}-d embeddings")
        if weight.shape[0] != vocab:
            raise ValueError(f"{weight.shape[0]} embedding rows for a {vocab}-token vocabulary")
        self.embedding = nn.EmbeddingBag.from_pretrained(
            weight, freeze=False, mode="mean", sparse=sparse
        )

    @property
    def dim(self) -> int:
        return int(self.embedding.embedding_dim)

    @property
    def label(self) -> str:
        source = "random" if self.init_from is None else f"from {self.init_from}"
        return f"static embeddings ({source})"

    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        self.tokenizer.enable_truncation(max_length or self.max_length)
        add_special = not self.drop_special_tokens
        rows = [
            e.ids
            for e in self.tokenizer.encode_batch_fast(list(texts), add_special_tokens=add_special)
        ]
        lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # [B]
        width = int(lengths.max()) if len(rows) else 0
        mask = torch.arange(width)[None, :] < lengths[:, None]  # [B, L]
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        ids[mask] = torch.tensor(list(itertools.chain.from_iterable(rows)), dtype=torch.long)
        return {"input_ids": ids, "attention_mask": mask.long()}

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        mask = features["attention_mask"].bool()  # [B, L]
        lengths = mask.sum(1)  # [B]
        offsets = torch.cumsum(lengths, 0) - lengths  # [B] start of each bag
        emb = self.embedding(features["input_ids"][mask], offsets)  # [B, D]; empty bag -> 0
        return F.normalize(emb, p=2, dim=-1) if self.normalize else emb

    def describe(self) -> dict:
        return {
            **super().describe(),
            "init_from": self.init_from,
            "drop_special_tokens": self.drop_special_tokens,
            "vocab_size": self.tokenizer.get_vocab_size(),
        }

    def save_sentence_transformer(self, path: str | os.PathLike) -> Path:
        """Save as sentence-transformers' own ``StaticEmbedding`` (+ ``Normalize``) model, with
        its model card: ``SentenceTransformer(modules=...).save(path)``.

        The tokenizer truncates at the documents' ``max_length`` (``StaticEmbedding`` reports its
        ``max_seq_length`` as infinite whatever the tokenizer does).
        """
        if not self.drop_special_tokens:
            raise ValueError("StaticEmbedding never adds [CLS]/[SEP]: needs drop_special_tokens")
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

        tokenizer = copy.deepcopy(self.tokenizer)
        tokenizer.enable_truncation(self.max_length)
        weight = self.embedding.weight.detach().to("cpu", torch.float32).clone()
        modules: list[nn.Module] = [StaticEmbedding(tokenizer, embedding_weights=weight)]
        modules += [Normalize()] if self.normalize else []
        similarity = "cosine" if self.normalize else "dot"
        model = SentenceTransformer(modules=modules, device="cpu", similarity_fn_name=similarity)
        path = Path(path)
        model.save(str(path))
        log.debug("saved sentence-transformers static model to %s", path)
        return path
