"""Text encoders (students and dense scorers): texts -> L2-normalised embeddings."""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod

import torch
from torch import nn
from tqdm.auto import tqdm

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

    def describe(self) -> dict:
        """What, besides the weights, changes the embeddings (pooling, lengths, class)."""
        return {
            "class": type(self).__name__,
            "max_length": self.max_length,
            "query_max_length": self.query_max_length,
            "normalize": self.normalize,
        }

    def fingerprint(self) -> str:
        """Hash of the weights and :meth:`describe`: equal fingerprints encode texts identically."""
        h = hashlib.sha256(repr(sorted(self.describe().items())).encode())
        for name, tensor in sorted(self.state_dict().items()):
            h.update(name.encode())
            t = tensor.detach().to("cpu").contiguous()
            h.update(str(t.dtype).encode() + str(tuple(t.shape)).encode())
            h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
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
        progress: bool | str = False,
    ) -> torch.Tensor:
        """Encode texts in batches under ``torch.inference_mode``.

        Args:
            texts: input texts.
            batch_size: texts per forward pass.
            is_query: use ``query_max_length`` instead of ``max_length``.
            progress: show a tqdm bar (a string is used as its label).

        Returns:
            ``[len(texts), D]`` float32 on CPU.
        """
        max_length = self.query_max_length if is_query else self.max_length
        was_training = self.training
        self.eval()
        out = []
        # sort by length so batches pad little; restore order at the end
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        bar = tqdm(
            range(0, len(texts), batch_size),
            desc=progress if isinstance(progress, str) else "encode",
            disable=not progress,
            leave=False,
        )
        try:
            with torch.inference_mode():
                for start in bar:
                    batch = [texts[i] for i in order[start : start + batch_size]]
                    feats = {
                        k: v.to(self.device) for k, v in self.tokenize(batch, max_length).items()
                    }
                    out.append(self.forward(feats).float().cpu())
        finally:
            self.train(was_training)
        if not out:
            return torch.zeros(0, self.dim)
        emb = torch.cat(out)
        result = torch.empty_like(emb)
        result[torch.as_tensor(order)] = emb
        return result
