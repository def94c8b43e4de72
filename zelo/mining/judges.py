"""Pairwise relevance judges for the LLM-ensemble scorer: which of two documents answers better.

A judge maps M comparisons ``(query q, document a, document b)`` to ``P(a beats b)`` in
``[0, 1]``. :class:`SimulatedJudge` answers from the full judgments with a set error rate (for
CPU studies and tests); :class:`HFCausalLMJudge` asks a causal language model.

References:
    Pipitone et al., zELO, arXiv:2509.12541 (an ensemble of LLM judges compares document pairs).
    Qin et al., Large Language Models are Effective Text Rankers with Pairwise Ranking
    Prompting, arXiv:2306.17563 (pairwise prompts; both orders to cancel position bias).
"""

from __future__ import annotations

import inspect
import logging

import torch
from tqdm.auto import tqdm

from zelo.errors import ConfigError
from zelo.mining.hf_models import load_model, resolve_device
from zelo.mining.random_scorer import query_seed
from zelo.types import MiningInput

log = logging.getLogger(__name__)

DEFAULT_PROMPT = (
    "Which document better answers the search query? Reply with a single letter, A or B.\n\n"
    "Query: {query}\n\nDocument A: {doc_a}\n\nDocument B: {doc_b}\n\nBetter document:"
)


class SimulatedJudge:
    """A *simulated* judge: no language model, it reads the full judgments.

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


class HFCausalLMJudge:
    """A causal language model asked which of two documents better answers the query.

    ``P(A)`` is the softmax over the logits of the two answer tokens at the last position (left
    padding, explicit position ids so batching does not change the result). Each pair is asked in
    both orders and ``P(a beats b) = (P(A | a, b) + 1 − P(A | b, a)) / 2``, which cancels a
    constant position bias and makes ``compare(a, b) + compare(b, a) = 1``.

    Args:
        model: Hugging Face name or local folder of a causal LM.
        prompt: template with ``{query}``, ``{doc_a}`` and ``{doc_b}``.
        answer_tokens: the tokens that mean "A" and "B"; each must be one token (a base model
            prompted without chat template usually needs ``[" A", " B"]``).
        batch_size: prompts per forward pass.
        max_length: token limit of a prompt; each document is cut to ``(max_length - 64) / 2``
            tokens first, then the prompt is cut from the left if still too long.
        device: ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"``...
        torch_dtype: ``"auto"``, ``"bfloat16"``, ``"float16"`` or ``"float32"``.
        chat_template: wrap the prompt as a user turn with the tokenizer's chat template (when it
            has one) and ask for the assistant's first token.

    References:
        Qin et al., arXiv:2306.17563; zELO, arXiv:2509.12541.
    """

    name = "hf_causal_lm"
    reads_judgments = False

    def __init__(
        self,
        model: str,
        prompt: str = DEFAULT_PROMPT,
        answer_tokens: tuple[str, str] | list[str] = ("A", "B"),
        batch_size: int = 8,
        max_length: int = 512,
        device: str = "auto",
        torch_dtype: str = "auto",
        chat_template: bool = True,
    ) -> None:
        if len(answer_tokens) != 2:
            raise ConfigError(f"answer_tokens needs two tokens (A, B), got {answer_tokens!r}")
        self.model_name = str(model)
        self.device = resolve_device(device)
        self.torch_dtype = torch_dtype
        self.prompt = prompt
        self.answer_tokens = [str(t) for t in answer_tokens]
        self.batch_size = batch_size
        self.max_length = max_length
        self.chat_template = chat_template
        self.model = self.tokenizer = None

    def load(self) -> None:
        """Load the model and tokenizer on first use (instantiating the config loads nothing)."""
        if self.model is not None:
            return
        from transformers import AutoModelForCausalLM

        model, tok = load_model(
            AutoModelForCausalLM,
            self.model_name,
            "miner.scorer.judges.<name>.model",
            dtype=self.torch_dtype,
        )
        tok.padding_side = "left"
        tok.truncation_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        self.model, self.tokenizer = model.to(self.device), tok
        self.answer_ids = [self._token_id(t) for t in self.answer_tokens]
        self.use_chat = bool(self.chat_template and getattr(tok, "chat_template", None))
        self._keep_last = "logits_to_keep" in inspect.signature(model.forward).parameters

    def _token_id(self, token: str) -> int:
        ids = self.tokenizer.encode(token, add_special_tokens=False)
        if len(ids) != 1:
            raise ConfigError(
                f"answer token {token!r} is {len(ids)} tokens for {self.model_name}; "
                "set the judge's answer_tokens to two single-token strings"
            )
        return int(ids[0])

    def describe(self) -> str:
        return f"LLM judge {self.model_name} on {self.device}"

    def _truncate(self, texts: list[str]) -> list[str]:
        budget = max(16, (self.max_length - 64) // 2)
        ids = self.tokenizer(texts, add_special_tokens=False, truncation=True, max_length=budget)
        return self.tokenizer.batch_decode(ids["input_ids"], skip_special_tokens=True)

    def _render(self, query: str, doc_a: str, doc_b: str) -> str:
        text = self.prompt.format(query=query, doc_a=doc_a, doc_b=doc_b)
        if not self.use_chat:
            return text
        messages = [{"role": "user", "content": text}]
        return self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )

    def first_probs(self, queries: list[str], docs_a: list[str], docs_b: list[str]) -> torch.Tensor:
        """``P(A)`` ``[M]`` for prompts with ``docs_a`` shown as A and ``docs_b`` as B (one order)."""
        self.load()
        prompts = [self._render(q, a, b) for q, a, b in zip(queries, docs_a, docs_b, strict=True)]
        out = torch.empty(len(prompts))
        bar = tqdm(range(0, len(prompts), self.batch_size), desc="llm judge", leave=False)
        with torch.inference_mode():
            for start in bar:
                batch = self.tokenizer(
                    prompts[start : start + self.batch_size],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                    add_special_tokens=not self.use_chat,
                ).to(self.device)
                out[start : start + len(batch["input_ids"])] = self._answer_probs(batch)
        return out

    def _answer_probs(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``P(A)`` ``[B]`` from the answer tokens' logits at the last position."""
        mask = batch["attention_mask"]
        position_ids = (mask.long().cumsum(-1) - 1).clamp(min=0)
        extra = {"logits_to_keep": 1} if self._keep_last else {}
        logits = self.model(
            input_ids=batch["input_ids"], attention_mask=mask, position_ids=position_ids, **extra
        ).logits[:, -1, :]  # [B, V]
        pair = logits[:, self.answer_ids].float()  # [B, 2]
        return pair.softmax(dim=-1)[:, 0].cpu()

    def compare(
        self, inp: MiningInput, queries: torch.Tensor, doc_a: torch.Tensor, doc_b: torch.Tensor
    ) -> torch.Tensor:
        """``P(a beats b)`` ``[M]``: both orders asked, position bias averaged out."""
        self.load()
        ids = sorted(set(doc_a.tolist()) | set(doc_b.tolist()))
        short = dict(zip(ids, self._truncate([inp.doc_texts[d] for d in ids]), strict=True))
        q = [inp.query_texts[i] for i in queries.tolist()]
        a = [short[d] for d in doc_a.tolist()]
        b = [short[d] for d in doc_b.tolist()]
        both = self.first_probs(q + q, a + b, b + a)  # [2M]
        m = len(q)
        return 0.5 * (both[:m] + 1.0 - both[m:])
