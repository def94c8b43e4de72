"""Any SentenceTransformer folder as a zelo encoder: the student (``model=st``) or a dense scorer
(``miner/scorer=st``). A student trained this way is saved back as a SentenceTransformer folder."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from zelo.errors import ConfigError
from zelo.models.biencoder import BiEncoderModule
from zelo.models.encoders import Encoder

if TYPE_CHECKING:
    from zelo.mining.scorers.dense import DenseScorer

log = logging.getLogger(__name__)


def load_sentence_transformer(path: str | os.PathLike, device: str = "cpu") -> nn.Module:
    """``SentenceTransformer(path)`` from a local folder (never downloads).

    Raises:
        ConfigError: ``path`` is not a SentenceTransformer folder (no ``modules.json``).
    """
    folder = Path(path)
    if not (folder / "modules.json").is_file():
        raise ConfigError(f"{folder} is not a SentenceTransformer folder (no modules.json)")
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(folder), device=device, local_files_only=True)


QUERY_PROMPTS = ("query",)  # the prompt encode_query uses unless told otherwise
DOCUMENT_PROMPTS = ("document", "passage", "corpus")  # the first present: encode_document's


def side_prompt(
    model: nn.Module,
    prompt: str | None,
    prompt_name: str | None,
    defaults: tuple[str, ...],
    key: str,
) -> str | None:
    """The prompt one side (queries or documents) is encoded with, chosen as
    ``SentenceTransformer.encode_query``/``encode_document`` choose it: ``prompt``, else the
    model's prompt ``prompt_name``, else the first of ``defaults`` the model has, else the model's
    ``default_prompt_name``, else none.

    Raises:
        ConfigError: ``prompt_name`` is not one of the model's prompts (``key`` names the option).
    """
    prompts = dict(model.prompts or {})
    if prompt is not None:
        return prompt
    if prompt_name is not None:
        if prompt_name not in prompts:
            raise ConfigError(f"{key}={prompt_name}: the model's prompts are {sorted(prompts)}")
        return prompts[prompt_name]
    for name in defaults:
        if name in prompts:
            return prompts[name]
    default = model.default_prompt_name
    return prompts.get(default) if default is not None else None


class SentenceTransformerEncoder(Encoder):
    """A SentenceTransformer model (any module stack) behind zelo's :class:`Encoder` interface.

    Queries and documents get the prompts the model's ``encode_query`` and ``encode_document``
    would give them (its ``prompts``, ``default_prompt_name``), unless set here.

    Args:
        path: a local SentenceTransformer folder (``modules.json`` inside), e.g. a zelo student.
        max_length: token limit for documents; ``None``: the model's ``max_seq_length`` (256 when
            it has none, as static embeddings).
        query_max_length: token limit for queries (defaults to ``max_length``).
        normalize: L2-normalise the output; ``None``: when the model's similarity is cosine (zelo
            searches by inner product, so cosine models need unit vectors).
        query_prompt, document_prompt: a prompt string prepended to queries / documents.
        query_prompt_name, document_prompt_name: the name of one of the model's prompts.
    """

    def __init__(
        self,
        path: str,
        max_length: int | None = None,
        query_max_length: int | None = None,
        normalize: bool | None = None,
        query_prompt: str | None = None,
        document_prompt: str | None = None,
        query_prompt_name: str | None = None,
        document_prompt_name: str | None = None,
    ) -> None:
        model = load_sentence_transformer(path)
        own = model.max_seq_length
        limit = max_length or (int(own) if isinstance(own, int) else 256)
        if normalize is None:
            normalize = model.similarity_fn_name == "cosine"
        super().__init__(limit, query_max_length, normalize)
        self.path = str(path)
        self.model = model
        self.prompts = {
            "query": side_prompt(
                model, query_prompt, query_prompt_name, QUERY_PROMPTS, "query_prompt_name"
            ),
            "document": side_prompt(
                model, document_prompt, document_prompt_name, DOCUMENT_PROMPTS,
                "document_prompt_name",
            ),
        }  # fmt: skip
        shown = {k: v for k, v in self.prompts.items() if v}
        log.info(
            "SentenceTransformer %s as encoder (dim=%d%s)",
            self.path, self.dim, f", prompts {shown}" if shown else "",
        )  # fmt: skip

    @property
    def dim(self) -> int:
        # renamed in sentence-transformers 5; the old name still works there, with a warning
        dim = getattr(self.model, "get_embedding_dimension", None)
        return int(dim() if dim else self.model.get_sentence_embedding_dimension())

    @property
    def label(self) -> str:
        return Path(self.path).name

    def tokenize_side(self, texts: list[str], is_query: bool = False) -> dict[str, torch.Tensor]:
        limit = self.query_max_length if is_query else self.max_length
        return self.tokenize(texts, limit, self.prompts["query" if is_query else "document"])

    def tokenize(
        self, texts: list[str], max_length: int | None = None, prompt: str | None = None
    ) -> dict[str, torch.Tensor]:
        """Features of ``texts`` (``prompt`` prepended the model's way: its pooling may leave
        the prompt's tokens out, so ``prompt_length`` travels with the features)."""
        first = self.model[0]
        old = getattr(first, "max_seq_length", None)
        settable = isinstance(old, int)  # static embeddings truncate in their own tokenizer
        if settable:
            first.max_seq_length = max_length or self.max_length
        try:
            features = self.model.preprocess(list(texts), prompt=prompt or None)
        finally:
            if settable:
                first.max_seq_length = old
        if isinstance(features.get("prompt_length"), int):
            features["prompt_length"] = torch.tensor([features["prompt_length"]])
        return {k: v for k, v in features.items() if isinstance(v, torch.Tensor)}

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        emb = self.model(dict(features))["sentence_embedding"]  # [B, D]
        return F.normalize(emb, p=2, dim=-1) if self.normalize else emb

    def describe(self) -> dict:
        return {**super().describe(), "path": self.path, "prompts": self.prompts}

    def save_sentence_transformer(self, path: str | os.PathLike) -> Path:
        """Save the (trained) model as a SentenceTransformer folder with its own module stack."""
        path = Path(path)
        self.model.save(str(path), create_model_card=False)
        log.debug("saved sentence-transformers model to %s", path)
        return path


def st_student(
    path: str,
    loss: nn.Module,
    corpus: Sequence[str] = (),
    max_length: int | None = None,
    query_max_length: int | None = None,
    normalize: bool | None = None,
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    query_prompt_name: str | None = None,
    document_prompt_name: str | None = None,
    **training: Any,
) -> BiEncoderModule:
    """The student of ``model=st``: a SentenceTransformer folder trained by zelo's bi-encoder.

    Args:
        path: the SentenceTransformer folder to start from.
        loss: the training loss (from the ``loss`` group).
        corpus: the collection's documents (given by the pipeline, as to every student).
        max_length, query_max_length, normalize, query_prompt, document_prompt,
            query_prompt_name, document_prompt_name: see :class:`SentenceTransformerEncoder`.
        **training: the optimisation and evaluation options of
            :class:`zelo.models.biencoder.BiEncoderModule` (``lr``, ``corpus_batch_size``, ...),
            with its defaults.
    """
    encoder = SentenceTransformerEncoder(
        path, max_length, query_max_length, normalize,
        query_prompt, document_prompt, query_prompt_name, document_prompt_name,
    )  # fmt: skip
    return BiEncoderModule(encoder, loss, corpus, **training)


def st_scorer(
    path: str,
    max_length: int | None = None,
    batch_size: int = 64,
    cache_dir: str | None = None,
    index: str = "flat",
    use_gpu: str | bool = "auto",
    device: str = "auto",
    query_prompt: str | None = None,
    document_prompt: str | None = None,
    query_prompt_name: str | None = None,
    document_prompt_name: str | None = None,
) -> DenseScorer:
    """The dense scorer of ``miner/scorer=st``: exact inner-product search with a
    SentenceTransformer folder's embeddings (see :class:`zelo.mining.scorers.dense.DenseScorer`), its
    queries and documents encoded with the model's prompts (see
    :class:`SentenceTransformerEncoder`)."""
    from zelo.mining.scorers.dense import DenseScorer

    encoder = SentenceTransformerEncoder(
        path, max_length, None, None,
        query_prompt, document_prompt, query_prompt_name, document_prompt_name,
    )  # fmt: skip
    return DenseScorer(encoder, batch_size, cache_dir, index, use_gpu, device)
