"""miner=precomputed reads what sentence-transformers' own ``mine_hard_negatives`` writes, in every
output format, with and without scores."""

from __future__ import annotations

from pathlib import Path

import pytest

from zelo.errors import ConfigError
from zelo.mining.base import Miner
from zelo.mining.scorers.precomputed import PrecomputedScorer
from zelo.types import MiningInput

PAIRS = [
    ("how do plants make food", "Photosynthesis turns light and water into sugar."),
    ("why is the sky blue", "Rayleigh scattering favours short wavelengths."),
    ("what makes thunder", "Lightning heats the air, which expands with a bang."),
]
CORPUS = [
    "Leaves hold chlorophyll.",
    "Sugar is sweet.",
    "The ocean looks blue too.",
    "Storm clouds carry charge.",
    "Air is mostly nitrogen.",
    "Light travels fast.",
    "Plants need water.",
]


def _mined(model_path: Path, out: Path, fmt: str, scores: bool) -> Path:
    import datasets
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.util import mine_hard_negatives

    pairs = datasets.Dataset.from_dict(
        {"query": [q for q, _ in PAIRS], "answer": [a for _, a in PAIRS]}
    )
    model = SentenceTransformer(str(model_path), device="cpu")
    ds = mine_hard_negatives(
        pairs,
        model,
        corpus=CORPUS,
        num_negatives=2,
        output_format=fmt,
        output_scores=scores,
        verbose=False,
    )
    ds.save_to_disk(str(out))
    return out


def _negatives_in_file(ds, fmt: str) -> dict[str, list[str]]:
    """Per anchor, the negatives' texts in file order (first occurrence)."""
    out: dict[str, list[str]] = {}
    for row in ds:
        q = row["query"]
        if fmt == "triplet":
            texts = [row["negative"]]
        elif fmt == "n-tuple":
            texts = [row[f"negative_{i}"] for i in (1, 2)]
        else:  # labeled-list: the positive first
            texts = row["answer"][1:]
        for t in texts:
            if t not in out.setdefault(q, []):
                out[q].append(t)
    return out


@pytest.mark.parametrize("scores", [False, True])
@pytest.mark.parametrize("fmt", ["triplet", "n-tuple", "labeled-list"])
def test_mine_hard_negatives_output_is_read_back(tiny_st: Path, tmp_path: Path, fmt, scores):
    import datasets

    folder = _mined(tiny_st, tmp_path / "mined", fmt, scores)
    scorer = PrecomputedScorer(str(folder))
    assert scorer.format == fmt and scorer.scored == scores
    docs = [a for _, a in PAIRS] + CORPUS
    inp = MiningInput([q for q, _ in PAIRS], docs, [[i] for i in range(len(PAIRS))], 2)
    mined = Miner(scorer, depth=1000).mine(inp)
    expected = _negatives_in_file(datasets.load_from_disk(str(folder)), fmt)
    for q, (query, _) in enumerate(PAIRS):
        got = [docs[d] for d in mined.neg_ids[q].tolist() if d >= 0]
        if scores:  # ordered by the file's scores, which mine_hard_negatives wrote best first
            assert sorted(got) == sorted(expected[query])
        else:
            assert got == expected[query]


def test_labeled_pair_with_labels_is_read_and_with_scores_refused(tiny_st: Path, tmp_path: Path):
    folder = _mined(tiny_st, tmp_path / "lp", "labeled-pair", False)
    scorer = PrecomputedScorer(str(folder))
    docs = [a for _, a in PAIRS] + CORPUS
    inp = MiningInput([q for q, _ in PAIRS], docs, [[i] for i in range(len(PAIRS))], 2)
    mined = Miner(scorer, depth=1000).mine(inp)
    assert (mined.neg_ids >= 0).all() and mined.dropped["positive"] == len(PAIRS)
    scored = _mined(tiny_st, tmp_path / "lps", "labeled-pair", True)
    with pytest.raises(ConfigError, match="cannot be told apart"):
        PrecomputedScorer(str(scored))
