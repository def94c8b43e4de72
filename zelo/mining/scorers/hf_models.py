"""Loading Hugging Face models for scorers and judges (cross-encoders, causal LMs), by name or folder.

Nothing is downloaded when the Hub is unreachable or ``HF_HUB_OFFLINE=1``: a missing model gives
one :class:`~zelo.errors.ConfigError` that names the config key and how to point it at a folder.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch

from zelo.errors import ConfigError

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; anything else as given (``"cuda:1"``)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_dtype(name: str) -> torch.dtype | str:
    """``"auto"`` (the checkpoint's dtype) or a torch dtype name such as ``"bfloat16"``."""
    if name == "auto":
        return "auto"
    dtype = getattr(torch, str(name), None)
    if not isinstance(dtype, torch.dtype):
        raise ConfigError(f"unknown torch dtype {name!r} (use auto, float32, bfloat16, float16)")
    return dtype


def missing_model_error(model: str, key: str, err: Exception) -> ConfigError:
    """The one error for a model that is neither a local folder nor loadable from the Hub."""
    return ConfigError(
        f"{key}={model!r} could not be loaded: it is not a local folder and the Hugging Face Hub "
        f"did not provide it ({type(err).__name__}: {str(err).splitlines()[0][:200]}). "
        f"Set {key}=/path/to/folder, a folder holding config.json, the weights and the "
        f"tokenizer files (e.g. from `huggingface-cli download {model} --local-dir <folder>` "
        "on a machine with network access)."
    )


def load_model(
    auto_class: type,
    model: str,
    key: str,
    pretrained: bool = True,
    config_overrides: dict | None = None,
    dtype: str = "auto",
) -> tuple[Any, Any]:
    """Model and tokenizer of ``model`` through a transformers ``Auto*`` class.

    Args:
        auto_class: e.g. ``AutoModelForSequenceClassification`` or ``AutoModelForCausalLM``.
        model: Hub name or local folder.
        key: config key that holds ``model`` (named in the error message).
        pretrained: load the weights; ``False`` builds the architecture from its config with
            random weights (tests).
        config_overrides: config attributes to change before building (e.g. ``num_labels``).
        dtype: ``"auto"`` or a torch dtype name.

    Returns:
        ``(model in eval mode, tokenizer)``.
    """
    from transformers import AutoConfig, AutoTokenizer

    try:
        config = AutoConfig.from_pretrained(model, **dict(config_overrides or {}))
        tokenizer = AutoTokenizer.from_pretrained(model)
        if pretrained:
            net = auto_class.from_pretrained(model, config=config, dtype=resolve_dtype(dtype))
        else:
            net = auto_class.from_config(config)
    except OSError as err:
        if Path(model).is_dir():
            raise
        raise missing_model_error(model, key, err) from err
    log.info("%s: loaded %s (pretrained=%s)", auto_class.__name__, model, pretrained)
    return net.eval(), tokenizer
