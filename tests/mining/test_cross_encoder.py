from __future__ import annotations

from pathlib import Path

import pytest
import torch

from zelo.errors import ConfigError
from zelo.mining.scorers.cross_encoder import CrossEncoderScorer, relevance_logit
from zelo.types import MiningInput

WORDS = "heat flow water pump river stone light glass sound wave".split()


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT classifier with MiniLM's tokenizer, saved to disk."""
    from transformers import AutoConfig, AutoTokenizer, BertForSequenceClassification

    from zelo.models.encoders import minilm_path

    config = AutoConfig.from_pretrained(
        minilm_path(),
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_cross_encoder")
    BertForSequenceClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(folder)
    return folder


def _input(q: int = 3, n: int = 12) -> MiningInput:
    g = torch.Generator().manual_seed(0)
    text = lambda k: " ".join(WORDS[i] for i in torch.randint(len(WORDS), (k,), generator=g))  # noqa: E731
    return MiningInput(
        [text(3) for _ in range(q)], [text(4 + i % 5) for i in range(n)], [[i] for i in range(q)], 2
    )


def test_relevance_logit_of_one_and_two_output_heads():
    torch.testing.assert_close(
        relevance_logit(torch.tensor([[0.3], [-1.0]])), torch.tensor([0.3, -1.0])
    )
    torch.testing.assert_close(relevance_logit(torch.tensor([[1.0, 3.0]])), torch.tensor([2.0]))
    with pytest.raises(ConfigError, match="miner.scorer.model"):
        relevance_logit(torch.zeros(1, 3))


def test_reranks_first_stage_candidates_and_scores_consistently(fake_scorer, tiny_cross_encoder):
    inp = _input()
    first = fake_scorer(torch.rand(3, 12, generator=torch.Generator().manual_seed(1)))
    scorer = CrossEncoderScorer(str(tiny_cross_encoder), first, candidates=5, batch_size=4)
    ids, scores = scorer.rank(inp, 7)
    assert (ids[:, 5:] == -1).all() and torch.isinf(scores[:, 5:]).all()
    for row, cand in zip(ids[:, :5].tolist(), first.rank(inp, 5)[0].tolist(), strict=True):
        assert sorted(row) == sorted(cand)  # the same candidates, reordered
    assert (scores[:, :4] >= scores[:, 1:5]).all()
    torch.testing.assert_close(scorer.score(inp, ids[:, :5]), scores[:, :5], atol=1e-5, rtol=0)
    one_by_one = CrossEncoderScorer(str(tiny_cross_encoder), first, candidates=5, batch_size=1)
    torch.testing.assert_close(one_by_one.score(inp, ids[:, :5]), scores[:, :5], atol=1e-5, rtol=0)


def test_missing_model_offline_names_the_config_key(fake_scorer, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    scorer = CrossEncoderScorer("no-such-org/no-such-cross-encoder", fake_scorer(torch.ones(3, 12)))
    with pytest.raises(ConfigError, match=r"miner\.scorer\.model=/path/to/folder"):
        scorer.rank(_input(), 3)


def test_runs_end_to_end_through_the_config(make_cfg, tiny_cross_encoder):
    from zelo.pipeline import build

    cfg = make_cfg(
        "miner=cross_encoder",
        f"miner.scorer.model={tiny_cross_encoder}",
        "miner.scorer.candidates=8",
        "miner.depth=8",
        "miner.scorer.first_stage.encoder=null",  # first stage: the tiny student (no weights)
    )
    datamodule = build(cfg).datamodule
    mining_pass = datamodule.mine()
    stats, mined = mining_pass.stats, mining_pass.mined
    assert mined.neg_ids.shape[1] == cfg.data.num_negatives and mined.num_short == 0
    assert 0.0 <= stats["miner/ndcg@10"] <= 1.0
