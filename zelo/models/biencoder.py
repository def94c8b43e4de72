"""The LightningModule: a bi-encoder student trained with a contrastive loss, evaluated by search."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import lightning.pytorch as pl
import torch
from torch import nn
from torchmetrics import MeanMetric

from zelo.eval.metrics import evaluate_ranking
from zelo.keys import EVAL_METRICS, TRAIN_LOSS_EPOCH, TRAIN_LOSS_STEP, eval_key, train_key
from zelo.losses.infonce import ContrastiveLoss
from zelo.models.encoders import Encoder, TokenizedTexts
from zelo.models.optim import build_optimizer, warmup_schedule
from zelo.retrieval import Searcher, build_searcher
from zelo.utils.progress import EncodeProgress

log = logging.getLogger(__name__)

EVAL_KEYS = EVAL_METRICS


class BiEncoderModule(pl.LightningModule):
    """One shared encoder for queries and documents, trained with ``loss``.

    Args:
        encoder: the student (:class:`zelo.models.encoders.Encoder`).
        loss: a :class:`zelo.losses.infonce.ContrastiveLoss`: ``(q [B, D], docs [B, 1+N, D],
            doc_ids [B, 1+N], pos_sets [B, P], teacher_scores [B, 1+N] | None, teacher | None)
            -> (loss, stats)``; its teacher comes in the batch.
        corpus: the documents every evaluation ranks (the collection's texts).
        lr: peak learning rate of AdamW (dense parameters).
        weight_decay: AdamW weight decay.
        sparse_lr: learning rate of SparseAdam for sparse embedding tables (default ``lr``).
        warmup_ratio: share of the training steps spent warming the learning rate up from 0.
        decay: ``linear`` decay to 0 after warm-up, or ``constant``.
        corpus_batch_size: documents per forward pass when encoding the corpus for evaluation.
        search_depth: documents retrieved per query at evaluation (>= every metric's cut-off).
    """

    def __init__(
        self,
        encoder: Encoder,
        loss: ContrastiveLoss,
        corpus: Sequence[str] = (),
        lr: float = 2e-5,
        weight_decay: float = 0.01,
        sparse_lr: float | None = None,
        warmup_ratio: float = 0.1,
        decay: str = "linear",
        corpus_batch_size: int = 128,
        search_depth: int = 100,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["encoder", "loss", "corpus"])
        self.encoder = encoder
        self.loss = loss
        self.corpus = list(corpus)
        self._eval_suffix = ""  # "_before" while measuring the zero-shot student
        self._metrics = nn.ModuleDict(
            {
                f"{s}_{k.replace('@', '_at_')}": MeanMetric()
                for s in ("val", "test")
                for k in EVAL_KEYS
            }
        )
        # the epoch's mean training loss lives in the module's state, so a checkpoint taken
        # mid-epoch carries it and a resumed epoch reports the mean over all its batches
        self.train_loss_mean = MeanMetric()
        self.train_loss_mean.persistent(True)
        self._corpus: torch.Tensor | None = None
        self._searcher: Searcher | None = None  # built once per state of the weights
        self._index_weights: str | None = None  # the encoder fingerprint the index was built with
        self._corpus_tokens: TokenizedTexts | None = None

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(features)

    @contextmanager
    def metric_suffix(self, suffix: str) -> Iterator[None]:
        """Evaluations inside log ``val/<metric><suffix>``, ``test/<metric><suffix>``
        (``_before``: the zero-shot student)."""
        self._eval_suffix = suffix
        try:
            yield
        finally:
            self._eval_suffix = ""

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        doc_ids = batch["doc_ids"]  # [B, 1+N]
        b, width = doc_ids.shape
        q = self.encoder(batch["query"])  # [B, D]
        docs = self.encoder(batch["docs"]).view(b, width, -1)  # [B, 1+N, D]
        loss, stats = self.loss(
            q,
            docs,
            doc_ids,
            batch["pos_sets"],
            batch.get("teacher_scores"),
            batch.get("teacher"),
        )
        self.train_loss_mean.update(loss.detach(), weight=b)
        self.log(TRAIN_LOSS_STEP, loss, on_step=True, prog_bar=True, batch_size=b)
        self.log(TRAIN_LOSS_EPOCH, self.train_loss_mean, on_step=False, on_epoch=True)
        for key, value in stats.items():
            self.log(train_key(key), float(value), on_step=True, on_epoch=False, batch_size=b)
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> dict:
        hp = self.hparams
        optimizer = build_optimizer(
            self, lr=hp.lr, weight_decay=hp.weight_decay, sparse_lr=hp.sparse_lr
        )
        total = max(int(self.trainer.estimated_stepping_batches), 1)
        scheduler = warmup_schedule(optimizer, int(hp.warmup_ratio * total), total, decay=hp.decay)
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }

    def configure_gradient_clipping(
        self,
        optimizer: torch.optim.Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        """Clip by global norm over dense *and* sparse gradients (torch's clip skips sparse)."""
        if not gradient_clip_val:
            return
        if gradient_clip_algorithm not in (None, "norm"):
            raise ValueError("sparse-aware clipping supports gradient_clip_algorithm='norm' only")
        clip_grad_norm([p.grad for p in self.parameters() if p.grad is not None], gradient_clip_val)

    def on_train_batch_start(self, batch: dict, batch_idx: int) -> None:
        if batch_idx == 0:  # also after resuming from a checkpoint taken at an epoch end
            self.train_loss_mean.reset()

    def on_train_epoch_start(self) -> None:
        self._release_index()  # the weights are about to change: free the evaluation index

    def on_validation_epoch_start(self) -> None:
        self._index_corpus()

    def on_test_epoch_start(self) -> None:
        self._index_corpus()

    def on_validation_epoch_end(self) -> None:
        self._log_eval("val")

    def on_test_epoch_end(self) -> None:
        self._log_eval("test")

    def _encode_corpus(self) -> None:
        if not self.corpus:
            raise ValueError("BiEncoderModule was built without a corpus to evaluate on")
        if self._corpus_tokens is None:  # tokenised once per run
            self._corpus_tokens = self.encoder.tokenize_batches(
                self.corpus, self.hparams.corpus_batch_size
            )
        progress = EncodeProgress(
            "documents", len(self.corpus), f"the student ({self.encoder.label})"
        )
        self._corpus = self.encoder.encode_tokenized(self._corpus_tokens, progress)

    def _index_corpus(self) -> None:
        """Encode the corpus and build its searcher, unless the index of these very weights is
        still held (validation then test, or the last epoch's validation then the final
        evaluation: one encoding, the same embeddings)."""
        weights = self.encoder.fingerprint()
        if self._searcher is not None and self._index_weights == weights:
            return
        self._encode_corpus()
        self._searcher = build_searcher(self._corpus, kind="flat")
        self._index_weights = weights

    def _release_index(self) -> None:
        self._corpus = None
        self._searcher = None
        self._index_weights = None

    def _eval_step(self, batch: dict, prefix: str) -> None:
        q = self.encoder(batch["query"]).float()  # [b, D]
        _, ids = self._searcher.search(q, k=self.hparams.search_depth)  # [b, K]
        per_query = evaluate_ranking(ids, batch["judgments"])
        for key in EVAL_KEYS:
            values = torch.as_tensor(per_query[key], dtype=torch.float32)
            self._metrics[f"{prefix}_{key.replace('@', '_at_')}"].update(values)

    def _log_eval(self, prefix: str) -> None:
        for key in EVAL_KEYS:
            metric = self._metrics[f"{prefix}_{key.replace('@', '_at_')}"]
            self.log(
                eval_key(prefix, key, self._eval_suffix),
                metric.compute(),
                prog_bar=key == "ndcg@10",
            )
            metric.reset()


def clip_grad_norm(grads: list[torch.Tensor], max_norm: float) -> float:
    """Scale ``grads`` in place so their global L2 norm is at most ``max_norm``; returns the norm.

    Sparse gradients count through their (coalesced) values, so a sparse embedding table and
    dense layers share one norm, as with dense training.
    """
    squares = [(g.coalesce().values() if g.is_sparse else g).float().pow(2).sum() for g in grads]
    if not squares:
        return 0.0
    norm = float(torch.stack(squares).sum().sqrt())
    if norm > max_norm:
        for g in grads:
            g.mul_(max_norm / (norm + 1e-6))
    return norm
