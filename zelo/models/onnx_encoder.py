"""An ONNX sentence encoder run by onnxruntime (a fixed scorer; not trainable).

The packaged paraphrase-MiniLM-L3-v2 (``minilm_l3``, see :mod:`zelo.models.packaged`) ships the
network alone: inputs ``input_ids`` and ``attention_mask`` ``[B, L]`` int64, among its outputs the
last hidden states ``[B, L, 384]``, no tokenizer. Its pooling is sentence-transformers' mean pooling plus L2
normalisation, done here. The tokenizer is all-MiniLM-L6-v2's: both models descend from
MiniLM-H384-uncased and share BERT's uncased 30,522-word vocabulary (checked in
``bench/packaged_models.py``: the ONNX word-embedding matrix has 30,522 rows, row i is closest to
all-MiniLM-L6-v2's row i for nearly every word, and retrieval with it reaches published quality).

References:
    Wang et al., MiniLM, arXiv:2002.10957; Reimers and Gurevych, Sentence-BERT, arXiv:1908.10084.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from zelo.errors import ConfigError
from zelo.models.encoders import Encoder, hf_tokenize, resolve_model_path
from zelo.models.packaged import INSTALL_COMMAND, PACKAGED, packaged_model_path

log = logging.getLogger(__name__)


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Attention-masked mean over tokens: ``[B, L, D]``, ``[B, L]`` -> ``[B, D]``."""
    m = mask.unsqueeze(-1).to(hidden.dtype)  # [B, L, 1]
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def onnx_session(path: str | Path, threads: int | None = None):
    """An onnxruntime CPU session for ``path`` (``threads``: intra-op threads, default torch's).

    Raises:
        ConfigError: onnxruntime is not installed.
    """
    try:
        import onnxruntime as ort
    except ImportError:
        raise ConfigError(
            f"onnxruntime is not installed (needed for ONNX encoders): run `{INSTALL_COMMAND}`"
        ) from None
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(threads or torch.get_num_threads())
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def hidden_output(session, name: str) -> str:
    """The name of the session's first float output of rank 3 (the hidden states ``[B, L, D]``).

    The packaged paraphrase-MiniLM-L3-v2 also echoes its inputs and returns a mean-pooled
    ``[B, 384]``; the pooling is done here from the hidden states, as for every encoder.

    Raises:
        ConfigError: no such output.
    """
    for out in session.get_outputs():
        if out.type == "tensor(float)" and len(out.shape) == 3:
            return out.name
    raise ConfigError(f"{name}: the ONNX model has no [batch, length, dim] float output")


class OnnxEncoder(Encoder):
    """A transformer exported to ONNX, mean-pooled (and L2-normalised) as sentence-transformers do.

    Args:
        name_or_path: a packaged model's name (``minilm_l3``) or the path of an ``.onnx`` file with
            a ``[B, L, D]`` float output (the last hidden states; the first such output is used).
        tokenizer: the tokenizer's folder or ``minilm`` (all-MiniLM-L6-v2's, BERT uncased).
        max_length: token limit for documents (paraphrase-MiniLM-L3-v2 was trained at 128).
        query_max_length: token limit for queries (defaults to ``max_length``).
        normalize: L2-normalise the output.
        threads: onnxruntime intra-op threads (``None``: as many as torch uses).
    """

    def __init__(
        self,
        name_or_path: str = "minilm_l3",
        tokenizer: str = "minilm",
        max_length: int = 128,
        query_max_length: int | None = None,
        normalize: bool = True,
        threads: int | None = None,
    ) -> None:
        super().__init__(max_length, query_max_length, normalize)
        from transformers import AutoTokenizer

        self.name = str(name_or_path)
        if self.name in PACKAGED:
            path = packaged_model_path(self.name)
            self.weights_sha256 = PACKAGED[self.name].sha256
        else:
            path = Path(self.name)
            if not path.is_file():
                raise ConfigError(f"encoder.name_or_path={self.name!r}: no such ONNX file")
            from zelo.utils.io import sha256_file

            self.weights_sha256 = sha256_file(path)
        self.session = onnx_session(path, threads)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.output_name = hidden_output(self.session, self.name)
        self.tokenizer_name = str(tokenizer)
        self.tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(tokenizer))
        probe = self._hidden(self.tokenize(["probe"]))  # [1, L, D]
        self._dim = int(probe.shape[-1])
        log.info("OnnxEncoder %s (dim=%d, inputs %s)", self.name, self._dim, self.input_names)

    @property
    def dim(self) -> int:
        return self._dim

    def tokenize(self, texts: list[str], max_length: int | None = None) -> dict[str, torch.Tensor]:
        return hf_tokenize(self.tokenizer, texts, max_length or self.max_length)

    def _hidden(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        feeds = {
            k: features[k].cpu().numpy().astype(np.int64) for k in self.input_names if k in features
        }
        return torch.from_numpy(self.session.run([self.output_name], feeds)[0])  # [B, L, D]

    def forward(self, features: dict[str, torch.Tensor]) -> torch.Tensor:
        emb = mean_pool(self._hidden(features).float(), features["attention_mask"])  # [B, D]
        return F.normalize(emb, p=2, dim=-1) if self.normalize else emb

    def describe(self) -> dict:
        # no torch weights: the ONNX file's checksum stands for them in the fingerprint
        return {
            **super().describe(),
            "name": self.name,
            "onnx_sha256": self.weights_sha256,
            "tokenizer": self.tokenizer_name,
        }
