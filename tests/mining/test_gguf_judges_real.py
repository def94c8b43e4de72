"""The packaged GGUF judges with their real weights (slow; `make llm-models` installs them): the
installed parts' checksum, the cached conversion, and one pointwise and one pairwise judgment
against reference values computed once from the real models (float32, CPU)."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch

from zelo.errors import ConfigError
from zelo.mining.scorers import gguf_models as gm
from zelo.mining.scorers.judges import HFCausalLMJudge
from zelo.types import MiningInput

pytestmark = pytest.mark.slow

QUERY = "How does a heat pump heat a house in winter?"
DOCS = [
    "A heat pump moves heat from the cold outdoor air into the house with a refrigerant cycle.",
    "The river carried stones downstream after the spring flood.",
]
# log-odds of Yes over No for (QUERY, DOCS[0]) and (QUERY, DOCS[1]); of A over B with DOCS[0]
# shown as A, then as B; computed once with this prompt, float32 on CPU (transformers 5.25)
REFERENCE = {
    "smollm2-135m": {"pointwise": [0.567509, 0.163624], "pairwise": [1.960756, 1.894707]},
    "qwen2.5-coder-0.5b": {"pointwise": [0.028948, -1.006641], "pairwise": [0.534554, 0.424877]},
}


@pytest.fixture(params=sorted(gm.PACKAGES))
def packaged(request) -> str:
    """A packaged model's name; without its packages: a failure under CI, else a skip."""
    try:
        gm.part_files(gm.package(request.param))
    except ConfigError as err:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install the GGUF judges (.ci/run): {err}")
        pytest.skip(str(err))
    return request.param


def test_installed_parts_match_the_recorded_checksum(packaged):
    pkg = gm.package(packaged)
    h, size = hashlib.sha256(), 0
    for path in gm.part_files(pkg):
        data = path.read_bytes()
        h.update(data)
        size += len(data)
    assert (size, h.hexdigest()) == (pkg.size, pkg.sha256)


def test_conversion_is_cached_verified_and_judges_as_recorded(packaged):
    pkg = gm.package(packaged)
    folder = gm.converted_model(packaged)
    assert gm.cached_folder_ok(folder, pkg)
    manifest = json.loads((folder / gm.MANIFEST).read_text())
    assert manifest["requirements"] == pkg.requirements
    assert "model.safetensors" in manifest["files"]
    judge = HFCausalLMJudge(f"gguf:{packaged}", device="cpu", torch_dtype="float32")
    inp = MiningInput([QUERY], DOCS, [[0]], 1)
    point = judge.relevance(inp, torch.tensor([0, 0]), torch.tensor([0, 1]))
    rows = [
        {"query": QUERY, "doc_a": DOCS[0], "doc_b": DOCS[1]},
        {"query": QUERY, "doc_a": DOCS[1], "doc_b": DOCS[0]},
    ]
    pair = judge.log_odds("pairwise", judge.prompts("pairwise", rows))
    ref = REFERENCE[packaged]
    assert point.tolist() == pytest.approx(ref["pointwise"], abs=2e-3)
    assert pair.tolist() == pytest.approx(ref["pairwise"], abs=2e-3)
