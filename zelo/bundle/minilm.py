"""all-MiniLM-L6-v2 in fp16 for the trip, restored to fp32 and checked against the fp32 model's
embeddings of a few texts."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from zelo.bundle.manifest import BundleError

MIN_COSINE = 0.999999
WEIGHTS = "model.safetensors"
HALF_WEIGHTS = "model.fp16.safetensors"
MINILM_SKIP = {WEIGHTS, "README.md", ".gitattributes", "data_config.json"}  # not needed to run
REFERENCE_TEXTS = (
    "Vitamin D supplementation and the risk of fractures in older adults.",
    "Does a diet high in red meat raise the risk of colorectal cancer?",
    "statin use breast cancer recurrence",
    "Dietary fibre intake was inversely associated with all-cause mortality in a cohort of "
    "52,000 adults followed for 14 years; the association held after adjustment for smoking, "
    "body mass index, physical activity and energy intake, and was strongest for cereal fibre.",
    "omega-3",
    "How much arsenic is in rice, and does rinsing it help?",
    "A randomised trial of green tea extract for weight loss in women with obesity.",
)


def reference_embeddings(model_dir: Path, texts: list[str]):
    """fp32 CPU embeddings ``[len(texts), D]`` of ``texts`` by zelo's MiniLM encoder."""
    from zelo.models.transformer import TransformerEncoder

    encoder = TransformerEncoder(str(model_dir), max_length=256)
    return encoder.encode(list(texts), batch_size=len(texts))


def _copy_minilm_files(src: Path, dest: Path, skip: set[str]) -> None:
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        rel = path.relative_to(src)
        if rel.as_posix() not in skip and "__pycache__" not in rel.parts:
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest / rel)


def restore_weights(minilm: Path, dest: Path) -> dict:
    """Write the fp32 model folder from a bundle's ``minilm/`` into ``dest`` and check it.

    Returns:
        ``{"min_cosine", "texts", "seconds"}``: the restored model's embeddings of the reference
        texts against the fp32 model's, recorded when the bundle was built.

    Raises:
        BundleError: a reference embedding moved (cosine below :data:`MIN_COSINE`).
    """
    import torch
    from safetensors.torch import load_file, save_file

    start = time.perf_counter()
    dest.mkdir(parents=True, exist_ok=True)
    _copy_minilm_files(minilm, dest, {HALF_WEIGHTS, "reference.json"})
    state = load_file(str(minilm / HALF_WEIGHTS))
    full = {k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()}
    tmp = dest / f".{WEIGHTS}.{os.getpid()}.tmp"
    save_file(full, str(tmp), metadata={"format": "pt"})
    os.replace(tmp, dest / WEIGHTS)
    ref = json.loads((minilm / "reference.json").read_text())
    got = reference_embeddings(dest, ref["texts"])
    cosine = (got * torch.tensor(ref["embeddings"])).sum(1)  # both L2-normalised
    worst = float(cosine.min())
    if not worst >= MIN_COSINE:
        raise BundleError(f"{dest}: restored MiniLM's embeddings moved: cosine {worst:.8f}")
    return {"min_cosine": worst, "texts": len(ref["texts"]), "seconds": time.perf_counter() - start}


def pack_minilm(src: Path, dest: Path) -> dict:
    """``dest`` = the MiniLM folder ``src`` with fp16 weights and the fp32 reference embeddings;
    checked by restoring it once here."""
    import torch
    from safetensors.torch import load_file, save_file

    dest.mkdir(parents=True)
    _copy_minilm_files(src, dest, MINILM_SKIP)
    state = load_file(str(src / WEIGHTS))
    half = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
    save_file(half, str(dest / HALF_WEIGHTS), metadata={"format": "pt"})
    reference = reference_embeddings(src, list(REFERENCE_TEXTS))
    ref = {"texts": list(REFERENCE_TEXTS), "embeddings": reference.tolist()}
    (dest / "reference.json").write_text(json.dumps(ref))
    with tempfile.TemporaryDirectory(prefix="zelo-minilm-") as tmp:
        check = restore_weights(dest, Path(tmp))
    return {
        "weights": f"minilm/{HALF_WEIGHTS}",
        "fp32_bytes": (src / WEIGHTS).stat().st_size,
        "tensors": len(state),
        "min_cosine_at_build": check["min_cosine"],
    }
