"""Hugging Face transformer encoders (MiniLM and any HF encoder by name or path)."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F

from zelo.models.encoders import Encoder, hf_tokenize, resolve_model_path

log = logging.getLogger(__name__)

MINILM_LABEL = "all-MiniLM-L6-v2"


def _mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean over tokens: ``[B, L, D]``, ``[B, L]`` -> ``[B, D]``."""
    m = mask.unsqueeze(-1).to(hidden.dtype)  # [B, L, 1]
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


class TransformerEncoder(Encoder):
    """A Hugging Face transformer with mean or CLS pooling (sentence-transformers compatible).

    Args:
        name_or_path: local folder or Hugging Face name; ``"minilm"`` or ``None`` is the packaged
            all-MiniLM-L6-v2 (:func:`minilm_path`).
        pooling: ``mean`` (attention-masked mean of the last hidden states) or ``cls``.
        max_length: token limit for documents (special tokens included).
        query_max_length: token limit for queries (defaults to ``max_length``).
        normalize: L2-normalise the output.
        pretrained: load the weights; ``False`` builds the architecture from its config with
            random weights drawn from the global torch RNG (tests use this, nothing is downloaded).
        config_overrides: config attributes to change before building, e.g. ``num_hidden_layers``.

    The unused pooler head is frozen so that DDP sees no parameter without a gradient.

    References:
        Sentence-BERT, arXiv:1908.10084.
    """

    def __init__(
        self,
        name_or_path: str | None = "minilm",
        pooling: str = "mean",
        max_length: int = 256,
        query_max_length: int | None = None,
        normalize: bool = True,
        pretrained: bool = True,
        config_overrides: dict | None = None,
    ) -> None:
        super().__init__(max_length, query_max_length, normalize)
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        self.name = "minilm" if name_or_path is None else str(name_or_path)
        self.pretrained = pretrained
        self.pooling = pooling
        path = resolve_model_path(name_or_path)
        config = AutoConfig.from_pretrained(path, **dict(config_overrides or {}))
        if pretrained:
            self.model = AutoModel.from_pretrained(
                path, config=config
            ).float()  # fp32 master weights
        else:
            self.model = AutoModel.from_config(config)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if getattr(self.model, "pooler", None) is not None:
            self.model.pooler.requires_grad_(False)
        log.info("TransformerEncoder: %s (dim=%d)", self.label, self.dim)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    @property
    def label(self) -> str:
        """``all-MiniLM-L6-v2``, the model folder's name, or what a random model is built as."""
        model = MINILM_LABEL if self.name == "minilm" else Path(self.name).name
        if self.pretrained:
            return model
        layers = self.model.config.num_hidden_layers
        return f"random weights, {layers} layers ({model}'s tokenizer and config)"

    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        return hf_tokenize(self.tokenizer, texts, max_length or self.max_length)

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        keys = ("input_ids", "attention_mask", "token_type_ids")
        hidden = self.model(**{k: features[k] for k in keys if k in features})[0]  # [B, L, D]
        if self.pooling == "cls":
            emb = hidden[:, 0]
        else:
            emb = _mean_pool(hidden, features["attention_mask"])
        return F.normalize(emb, p=2, dim=-1) if self.normalize else emb

    def describe(self) -> dict:
        return {**super().describe(), "name": self.name, "pooling": self.pooling}

    def save_sentence_transformer(self, path: str | os.PathLike) -> Path:
        """Save as sentence-transformers' own Transformer + Pooling (+ Normalize) model, with its
        model card and the documents' ``max_length`` as ``max_seq_length``.

        The weights and tokenizer go through a temporary folder beside ``path`` (the Transformer
        module loads from a folder), then ``SentenceTransformer(modules=...).save(path)``.
        """
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.base.modules import Normalize, Transformer
        from sentence_transformers.sentence_transformer.modules import Pooling

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        weights = Path(tempfile.mkdtemp(prefix=f".{path.name}.hf-", dir=path.parent))
        try:
            self.model.save_pretrained(weights)
            self.tokenizer.save_pretrained(weights)
            transformer = Transformer(str(weights), max_seq_length=self.max_length)
            modules = [transformer, Pooling(self.dim, {"cls": "cls", "mean": "mean"}[self.pooling])]
            modules += [Normalize()] if self.normalize else []
            similarity = "cosine" if self.normalize else "dot"
            model = SentenceTransformer(
                modules=modules, device="cpu", similarity_fn_name=similarity
            )
            model.save(str(path))
        finally:
            shutil.rmtree(weights, ignore_errors=True)
        log.debug("saved sentence-transformers model to %s", path)
        return path
