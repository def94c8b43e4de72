"""The epoch sampler: a reproducible order, and a fixed number of examples per query and epoch
that makes the training budget independent of how many positives are labelled."""

from __future__ import annotations

import pytest
import torch

from zelo.data.batches import EpochShuffleSampler, TrainExamples, epoch_selection
from zelo.pipeline import build
from zelo.types import MinedNegatives, QuerySet

GROUPS = [[0, 1, 2], [3], [4, 5]]  # query 0 has three labelled positives, query 1 one, query 2 two


def test_all_examples_without_a_per_query_budget() -> None:
    assert epoch_selection(GROUPS, None, seed=0, epoch=5) == [0, 1, 2, 3, 4, 5]
    assert epoch_selection(GROUPS, 3, seed=0, epoch=5) == [0, 1, 2, 3, 4, 5]  # nobody has more


def test_one_example_per_query_rotates_through_the_positives() -> None:
    picks = [epoch_selection(GROUPS, 1, seed=0, epoch=e) for e in range(6)]
    assert all(len(p) == 3 for p in picks)  # one per query, every epoch
    assert all(p[1] == 3 for p in picks)  # a single positive every time
    first = [p[0] for p in picks]
    assert sorted(first[:3]) == [0, 1, 2] and first[3:] == first[:3]  # each in turn, then again
    assert sorted(p[2] for p in picks[:2]) == [4, 5]
    two = epoch_selection(GROUPS, 2, seed=0, epoch=0)
    assert len(two) == 5 and len(set(two[:2])) == 2  # two distinct of query 0's three
    assert epoch_selection(GROUPS, 1, seed=0, epoch=0) == epoch_selection(GROUPS, 1, 0, 0)


def test_the_sampler_keeps_its_old_order_when_every_example_is_used() -> None:
    sampler = EpochShuffleSampler(6, seed=4, groups=GROUPS, per_group=None)
    sampler.set_epoch(2)
    expected = torch.randperm(6, generator=torch.Generator().manual_seed(4 * 100_003 + 2))
    assert list(sampler) == expected.tolist() and len(sampler) == 6
    budget = EpochShuffleSampler(6, seed=4, groups=GROUPS, per_group=1)
    assert len(budget) == 3
    epochs = []
    for e in range(3):
        budget.set_epoch(e)
        epochs.append(list(budget))
    assert all(len(ids) == 3 and 3 in ids for ids in epochs)
    assert {ids_ for ep in epochs for ids_ in ep if ids_ < 3} == {0, 1, 2}
    with pytest.raises(ValueError, match="data.examples_per_query"):
        EpochShuffleSampler(6, groups=GROUPS, per_group=0)


def test_train_examples_group_by_query() -> None:
    queries = QuerySet(["a", "b"], ["qa", "qb"], [{}, {}], [[7, 8, 9], [4]], [{}, {}])
    mined = MinedNegatives(
        neg_ids=torch.tensor([[1, 2], [3, 5]]),
        neg_scores=torch.zeros(2, 2),
        pos_scores=torch.zeros(2, 3),
        ranking=torch.zeros(2, 4, dtype=torch.long),
        ranking_scores=torch.zeros(2, 4),
        dropped={},
    )
    examples = TrainExamples(queries, mined)
    assert examples.groups == [[0, 1, 2], [3]]
    assert examples[2] == {"query": 0, "doc_ids": [9, 1, 2]}


def test_the_training_budget_does_not_grow_with_the_labelled_positives(make_cfg) -> None:
    # with every positive labelled a query trains once per positive an epoch; one example per
    # query and epoch gives every completeness level the steps of one labelled positive
    steps = {}
    for keep, per_query in (("1", "null"), ("null", "null"), ("null", "1")):
        cfg = make_cfg(
            "miner=random",
            f"annotation.keep_positives={keep}",
            f"data.examples_per_query={per_query}",
        )
        datamodule = build(cfg).datamodule
        datamodule.mine(0)
        steps[(keep, per_query)] = len(datamodule.train_dataloader())  # batches an epoch
    assert steps[("null", "null")] > 2 * steps[("1", "null")]
    assert steps[("null", "1")] == steps[("1", "null")]


def test_the_surface_experiment_equalises_the_budget(make_cfg) -> None:
    cfg = make_cfg("experiment=laffer_surface")
    assert cfg.data.examples_per_query == 1
    assert make_cfg().data.examples_per_query is None  # the default trains on every pair
