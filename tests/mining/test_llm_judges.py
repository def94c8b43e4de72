"""LLM judges on a tiny random causal LM (no download): pointwise log-odds, pairwise votes, the
zELO and pointwise scorers, the judgment cache, prompts, configs."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from zelo.errors import ConfigError
from zelo.mining.scorers.judges import HFCausalLMJudge, SimulatedJudge
from zelo.mining.scorers.judgment_cache import JudgmentCache, judgment_key
from zelo.mining.scorers.llm_ensemble import LLMEnsembleScorer
from zelo.mining.scorers.llm_pointwise import LLMPointwiseScorer
from zelo.mining.scorers.llm_prompts import JudgeTask, model_fingerprint, render_prompt
from zelo.types import MiningInput

CHAT = (
    "{% for m in messages %}<{{ m['role'] }}>{{ m['content'] }}</{{ m['role'] }}>"
    "{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_llm(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama (vocab 30522) with MiniLM's tokenizer and a small
    chat template, on disk."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from zelo.models.encoders import minilm_path

    config = LlamaConfig(
        vocab_size=30522,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=512,
    )
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("tiny_llm")
    LlamaForCausalLM(config).save_pretrained(folder)
    tok = AutoTokenizer.from_pretrained(minilm_path())
    tok.chat_template = CHAT
    tok.save_pretrained(folder)
    return folder


def _inp() -> MiningInput:
    return MiningInput(
        ["heat pumps", "river stones"],
        ["a heat pump moves heat", "rivers carry stones far", "glass", "sound waves", "x y z"],
        [[0], [1]],
        2,
    )


def _judge(folder: Path, **kw) -> HFCausalLMJudge:
    return HFCausalLMJudge(str(folder), device="cpu", torch_dtype="float32", **kw)


def test_render_prompt_plain_and_chat_with_few_shot_turns(tiny_llm):
    from transformers import AutoTokenizer

    task = JudgeTask(
        "Q: {query} D: {doc}?", ("Yes", "No"), ({"query": "a", "doc": "b", "answer": "No"},)
    )
    assert render_prompt(task, {"query": "x", "doc": "y"}) == "Q: a D: b? No\n\nQ: x D: y?"
    tok = AutoTokenizer.from_pretrained(tiny_llm)
    chat = render_prompt(task, {"query": "x", "doc": "y"}, tok, system="S")
    assert chat == (
        "<system>S</system><user>Q: a D: b?</user><assistant>No</assistant>"
        "<user>Q: x D: y?</user><assistant>"
    )


def test_pointwise_log_odds_are_the_answer_logit_gap_of_one_unpadded_forward(tiny_llm):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    inp = _inp()
    queries, docs = torch.tensor([0, 0, 1]), torch.tensor([0, 2, 4])
    judge = _judge(tiny_llm, batch_size=8)
    got = judge.relevance(inp, queries, docs)
    assert got.shape == (3,) and got.dtype == torch.float64
    tok = AutoTokenizer.from_pretrained(tiny_llm)
    model = AutoModelForCausalLM.from_pretrained(tiny_llm).eval()
    yes, no = tok.convert_tokens_to_ids(["yes", "no"])  # MiniLM's vocabulary is lower-cased
    for i, (q, d) in enumerate(zip(queries.tolist(), docs.tolist(), strict=True)):
        text = tok.apply_chat_template(
            [
                {
                    "role": "user",
                    "content": judge.tasks["pointwise"].template.format(
                        query=inp.query_texts[q], doc=inp.doc_texts[d]
                    ),
                }
            ],
            tokenize=False,
            add_generation_prompt=True,
        )
        ids = tok(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
        with torch.no_grad():
            logits = model(input_ids=ids).logits[0, -1]
        assert got[i].item() == pytest.approx(float(logits[yes] - logits[no]), abs=1e-4)
    single = _judge(tiny_llm, batch_size=1).relevance(inp, queries, docs)
    torch.testing.assert_close(got, single, atol=1e-5, rtol=0)
    assert torch.equal(got, _judge(tiny_llm, batch_size=8).relevance(inp, queries, docs))


def test_judgments_are_cached_in_memory_and_on_disk(tiny_llm, tmp_path):
    inp = _inp()
    queries, a, b = torch.tensor([0, 1, 1]), torch.tensor([0, 1, 3]), torch.tensor([2, 0, 4])
    judge = _judge(tiny_llm, batch_size=2, cache_dir=str(tmp_path))
    point = judge.relevance(inp, queries, a)
    pair = judge.compare(inp, queries, a, b)
    calls = judge.stats["forward_calls"]
    assert calls == 2 + 3  # 3 pointwise prompts, then 6 pairwise ones, in batches of 2
    assert torch.equal(point, judge.relevance(inp, queries, a))
    assert torch.equal(pair, judge.compare(inp, queries, a, b))
    swapped = judge.compare(inp, queries, b, a)  # the same prompts, read the other way
    torch.testing.assert_close(swapped, 1 - pair, atol=1e-12, rtol=0)
    assert judge.stats["forward_calls"] == calls and judge.stats["computed"] == 9
    fresh = _judge(tiny_llm, batch_size=2, cache_dir=str(tmp_path))
    assert torch.equal(point, fresh.relevance(inp, queries, a))
    assert torch.equal(pair, fresh.compare(inp, queries, a, b))
    assert fresh.model is None and fresh.stats["forward_calls"] == 0  # never loaded
    assert len(JudgmentCache(tmp_path)) == 9
    other = _judge(tiny_llm, batch_size=2, cache_dir=str(tmp_path), doc_tokens=2)
    other.relevance(inp, queries, a)  # cut to 2 tokens: new prompts, but "sound waves" is 2
    assert other.stats["computed"] == 2


def test_pairwise_votes_cancel_position_and_fit_elo(tiny_llm, fake_scorer, tmp_path):
    inp = _inp()
    # each query's labelled positive scores lowest: it joins the 4 candidates in the pool
    first = fake_scorer([[0.0, 0.5, 0.4, 0.3, 0.2], [0.5, 0.0, 0.4, 0.3, 0.2]])
    judge = _judge(tiny_llm, cache_dir=str(tmp_path))
    raw = judge.first_probs(["q", "q"], ["doc one", "doc two"], ["doc two", "doc one"])
    assert ((raw > 0) & (raw < 1)).all()
    scorer = LLMEnsembleScorer({"llm": judge}, first, candidates=4, degree=2, seed=3)
    ids, scores = scorer.rank(inp, 6)
    assert ids.shape == (2, 6) and (ids[:, :4] >= 0).all() and (ids[:, 4:] == -1).all()
    assert torch.isfinite(scores[:, :4]).all()
    assert sorted(ids[0, :4].tolist()) == sorted(first.rank(inp, 4)[0][0].tolist())
    # 2 queries x (4 candidates + 1 positive) x degree 2 / 2 comparisons, each in two orders
    assert judge.stats["judgments"] == 2 + 2 * 5 * 2  # first_probs' 2, then the scorer's
    again = LLMEnsembleScorer({"llm": _judge(tiny_llm, cache_dir=str(tmp_path))}, first, 4, 2, 3)
    ids2, scores2 = again.rank(inp, 6)
    assert torch.equal(ids, ids2) and torch.equal(scores, scores2)
    assert again.judges["llm"].model is None


def test_pointwise_scorer_sorts_the_first_stage_candidates_by_log_odds(tiny_llm, fake_scorer):
    inp = _inp()
    first = fake_scorer(torch.rand(2, 5, generator=torch.Generator().manual_seed(2)))
    judge = _judge(tiny_llm)
    scorer = LLMPointwiseScorer({"llm": judge}, first, candidates=3)
    ids, scores = scorer.rank(inp, 5)
    cands = first.rank(inp, 3)[0]
    assert (ids[:, 3:] == -1).all() and torch.isinf(scores[:, 3:]).all()
    for q in range(2):
        assert sorted(ids[q, :3].tolist()) == sorted(cands[q].tolist())
        direct = judge.relevance(inp, torch.full((3,), q), ids[q, :3]).float()
        torch.testing.assert_close(scores[q, :3], direct)
        assert (scores[q, :2] >= scores[q, 1:3]).all()
    padded = scorer.score(inp, torch.tensor([[0, -1], [-1, -1]]))
    assert (
        torch.isfinite(padded[0, 0]) and torch.isnan(padded[0, 1]) and torch.isnan(padded[1]).all()
    )
    assert scorer.report() == {"llm_judgments": 1.0}
    assert not scorer.reads_judgments
    with pytest.raises(ConfigError, match="pointwise"):
        LLMPointwiseScorer([SimulatedJudge()], first).rank(inp, 3)


def test_answer_tokens_must_be_single_tokens(tiny_llm):
    from transformers import AutoTokenizer

    pieces = AutoTokenizer.from_pretrained(tiny_llm).encode("xylophonic", add_special_tokens=False)
    assert len(pieces) > 1
    judge = _judge(tiny_llm, pointwise_tokens=["xylophonic", "no"])
    with pytest.raises(ConfigError, match="xylophonic"):
        judge.relevance(_inp(), torch.tensor([0]), torch.tensor([0]))


def test_judgment_keys_and_cache_round_trip(tmp_path):
    assert judgment_key("ab", "c") != judgment_key("a", "bc")
    cache = JudgmentCache(tmp_path / "j")
    assert cache.get(["k1"]) == {}
    cache.put({"k1": 0.5, "k2": -1.25})
    assert JudgmentCache(tmp_path / "j").get(["k2", "k1", "k3"]) == {"k2": -1.25, "k1": 0.5}
    memory = JudgmentCache(None)
    memory.put({"k": 1.0})
    assert memory.get(["k"]) == {"k": 1.0} and len(memory) == 1
    assert not (tmp_path / "none").exists()


def test_model_fingerprint_follows_the_weights(tiny_llm, tmp_path):
    import shutil

    assert model_fingerprint("org/name") == "hub:org/name"
    assert model_fingerprint("gguf:smollm2-135m").startswith("gguf:smollm2-135m:b179c952")
    copy = tmp_path / "copy"
    shutil.copytree(tiny_llm, copy)
    assert model_fingerprint(str(copy)) == model_fingerprint(str(tiny_llm))
    (copy / "config.json").write_text((copy / "config.json").read_text() + " ")
    assert model_fingerprint(str(copy)) != model_fingerprint(str(tiny_llm))


def test_real_judge_options_compose_load_nothing_and_are_no_control(make_cfg):
    from hydra.utils import instantiate

    from zelo.pipeline import control_label

    null = "miner.scorer.first_stage.encoder=null"
    both = "miner/scorer/judges=gguf_both"
    elo = instantiate(make_cfg("miner=llm_ensemble", both, null).miner)
    judges = elo.scorer.judges
    assert [j.model_name for j in judges.values()] == [
        "gguf:smollm2-135m",
        "gguf:qwen2.5-coder-0.5b",
    ]
    assert all(j.model is None and j.tokenizer is None for j in judges.values())
    assert all(j.cache.path.parent.name == "judgments" for j in judges.values())
    assert control_label(elo, None) is None
    point = instantiate(make_cfg("miner=topk", "miner/scorer=llm_pointwise", null).miner)
    assert isinstance(point.scorer, LLMPointwiseScorer) and list(point.scorer.judges) == ["qwen"]
    assert control_label(point, None) is None
    simulated = instantiate(make_cfg("miner=llm_ensemble", null).miner)
    assert control_label(simulated, None) == "scorer:llm_ensemble"  # the simulated judges


@pytest.mark.parametrize(
    "overrides",
    [
        ["miner=topk", "miner/scorer=llm_pointwise", "miner.scorer.judges.qwen.model={llm}"],
        [
            "miner=llm_ensemble",
            "miner/scorer/judges=gguf_smollm2",
            "miner.scorer.judges.smollm2.model={llm}",
            "miner.scorer.candidates=6",
        ],
    ],
    ids=["pointwise", "elo"],
)
def test_a_run_with_llm_judges_from_their_configs(make_cfg, tiny_llm, overrides):
    """The packaged judges' configs, end to end, with the tiny model in place of the GGUF."""
    from zelo.pipeline import train

    cfg = make_cfg(
        *[o.format(llm=tiny_llm) for o in overrides], "trainer.max_epochs=1", "callbacks=none"
    )
    metrics = train(cfg)
    assert metrics["run/control"] is None
    assert math.isfinite(metrics["miner/ndcg@10"]) and metrics["mining/num_negatives"] > 0
    assert (Path(cfg.paths.cache_dir) / "judgments" / "judgments.sqlite").exists()
