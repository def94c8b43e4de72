from __future__ import annotations

import torch

from zelo.retrieval import exact
from zelo.retrieval.exact import (
    above_floor,
    block_top,
    exact_search,
    order_rows,
    tied_rows,
    top_ordered,
)

prune = exact.above_floor


def _reference(queries: torch.Tensor, docs: torch.Tensor, k: int):
    """Brute force in the documented order: score descending, then the lower id."""
    scores = queries @ docs.T
    ids = [sorted(range(len(docs)), key=lambda d: (-row[d], d))[:k] for row in scores.tolist()]
    ids = torch.tensor(ids)
    return torch.gather(scores, 1, ids), ids


def _blocks(docs: torch.Tensor, rows: int):
    return [(s, docs[s : s + rows]) for s in range(0, len(docs), rows)]


def test_order_rows_by_score_then_id_missing_last():
    scores = torch.tensor([[0.5, 1.0, 0.5, 0.75, 0.0]])
    ids = torch.tensor([[7, 3, 2, 9, -1]])
    s, i = order_rows(scores, ids)
    assert i.tolist() == [[3, 9, 2, 7, -1]]
    assert s[0, :4].tolist() == [1.0, 0.75, 0.5, 0.5] and s[0, 4] == float("-inf")


def test_tied_rows_finds_equal_neighbours_only():
    values = torch.tensor([[3.0, 2.0, 1.0], [3.0, 3.0, 1.0], [2.0, 1.0, 1.0]])
    assert tied_rows(values).tolist() == [1, 2]
    assert tied_rows(values[:, :1]).tolist() == []


def test_block_top_keeps_the_lower_columns_of_a_tie_across_the_cut():
    # row 0: columns 1, 3, 4 tie at 0.5 for the last two places; row 1 has no tie
    scores = torch.tensor([[0.125, 0.5, 1.0, 0.5, 0.5, 0.25], [0.75, 0, 0.125, 0.25, 0.375, 0.5]])
    s, c = block_top(scores, 3)
    assert c.tolist() == [[2, 1, 3], [0, 5, 4]]
    assert s.tolist() == [[1.0, 0.5, 0.5], [0.75, 0.5, 0.375]]


def test_top_ordered_merges_by_score_then_id():
    scores = torch.tensor([[0.75, 0.5, 0.75, 0.25]])
    ids = torch.tensor([[10, 4, 2, 1]])
    s, i = top_ordered(scores, ids, 3)
    assert i.tolist() == [[2, 10, 4]] and s.tolist() == [[0.75, 0.75, 0.5]]


def test_exact_search_equals_brute_force_with_many_ties():
    # small integers: every inner product is exact in fp32 whatever the GEMM's blocking, so
    # equal scores are real ties (repeated vectors and coincidences) and the order is checkable
    g = torch.Generator().manual_seed(0)
    base = torch.randint(-3, 4, (40, 6), generator=g).float()
    docs = base[torch.randint(40, (300,), generator=g)]
    queries = torch.randint(-3, 4, (25, 6), generator=g).float()
    ref_s, ref_i = _reference(queries, docs, 17)
    for rows, buffer in ((300, 1 << 20), (64, 1 << 20), (50, 7 * 50)):  # blocks, query chunks
        s, i = exact_search(queries, _blocks(docs, rows), 17, buffer_elements=buffer)
        assert torch.equal(i, ref_i), (rows, buffer)
        torch.testing.assert_close(s, ref_s)


def test_exact_search_k_larger_than_a_block():
    g = torch.Generator().manual_seed(1)
    docs, queries = torch.randn(130, 8, generator=g), torch.randn(5, 8, generator=g)
    s, i = exact_search(queries, _blocks(docs, 40), 100)
    ref_s, ref_i = _reference(queries, docs, 100)
    assert torch.equal(i, ref_i)
    torch.testing.assert_close(s, ref_s)


def test_above_floor_keeps_every_column_beating_the_floor():
    scores = torch.tensor([[0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.75, 0.0], [0.0] * 7 + [0.25]])
    values, cols = above_floor(scores, torch.tensor([0.25, 0.0]), group=2)
    assert values.shape == cols.shape == (2, 4)  # row 0 has two qualifying groups
    for r, want in ((0, {1: 0.5, 6: 0.75}), (1, {7: 0.25})):
        got = dict(zip(cols[r].tolist(), values[r].tolist(), strict=True))
        assert all(got[c] == v for c, v in want.items())
        assert torch.equal(values[r], scores[r, cols[r]])
    assert above_floor(scores, torch.tensor([1.0, 1.0]), group=2) is None


def test_pruned_blocks_equal_brute_force(monkeypatch):
    widths = []  # candidate columns kept per pruned block (None: the block was skipped)

    def counted(*args, **kwargs):
        found = prune(*args, **kwargs)
        widths.append(None if found is None else found[0].shape[1])
        return found

    monkeypatch.setattr(exact, "above_floor", counted)
    g = torch.Generator().manual_seed(2)
    base = torch.randint(-4, 5, (500, 8), generator=g).float()
    docs = base[torch.randint(500, (4096,), generator=g)]  # repeated vectors: ties
    queries = torch.randint(-4, 5, (30, 8), generator=g).float()
    s, i = exact_search(queries, _blocks(docs, 512), 10)
    ref_s, ref_i = _reference(queries, docs, 10)
    assert any(w is None or w * 4 <= 512 for w in widths)  # some blocks took the pruned path
    assert torch.equal(i, ref_i)
    torch.testing.assert_close(s, ref_s)
