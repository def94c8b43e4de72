"""Prompts of the LLM judges: templates, few-shot turns, the chat template, and the model
fingerprint that keys their cached judgments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_PROMPT = (
    "Which document better answers the search query? Reply with a single letter, A or B.\n\n"
    "Query: {query}\n\nDocument A: {doc_a}\n\nDocument B: {doc_b}\n\nBetter document:"
)
POINTWISE_PROMPT = (
    "Does the document answer the search query? Reply with a single word, Yes or No.\n\n"
    "Query: {query}\n\nDocument: {doc}\n\nAnswer:"
)
GGUF_PREFIX = "gguf:"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".json", ".model")


@dataclass(frozen=True)
class JudgeTask:
    """One way of asking: a template, its two answer tokens, and few-shot examples.

    Attributes:
        template: a prompt with named fields (``{query}``, ``{doc}`` or ``{doc_a}``, ``{doc_b}``).
        answers: the token meaning yes / A, then the token meaning no / B (one token each).
        examples: few-shot examples, each a dict of the template's fields plus ``answer``.
    """

    template: str
    answers: tuple[str, str]
    examples: tuple[dict, ...] = ()


def render_prompt(task: JudgeTask, fields: dict, tokenizer=None, system: str | None = None) -> str:
    """The prompt text for ``fields``: with a tokenizer, through its chat template (examples as
    earlier user/assistant turns, the answer as the assistant's first token); else plain text."""
    shots = [(task.template.format(**ex), str(ex["answer"])) for ex in task.examples]
    text = task.template.format(**fields)
    if tokenizer is None:
        return "".join(f"{q} {a}\n\n" for q, a in shots) + text
    messages = [{"role": "system", "content": system}] if system else []
    for q, a in shots:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    messages.append({"role": "user", "content": text})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


def examples_tuple(examples: list[dict] | None) -> tuple[dict, ...]:
    return tuple(dict(ex) for ex in examples or ())


def model_fingerprint(model: str) -> str:
    """``gguf:<name>:<sha256>`` for a packaged GGUF; the sha256 of a folder's weight, config and
    tokenizer files; else ``hub:<name>``."""
    if model.startswith(GGUF_PREFIX):
        from zelo.mining.scorers.gguf_models import package

        pkg = package(model[len(GGUF_PREFIX) :])
        return f"gguf:{pkg.name}:{pkg.sha256}"
    folder = Path(model)
    if not folder.is_dir():
        return f"hub:{model}"
    h = hashlib.sha256()
    for path in sorted(p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            while block := f.read(1 << 24):
                h.update(block)
    return f"dir:{h.hexdigest()}"
