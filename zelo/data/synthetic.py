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
from zelo.types import Collection, Qrels

log = logging.getLogger(__name__)

# Profanities of the vocabulary, kept out of the generated texts.
_EXCLUDED = frozenset(
    "fuck fucking fucked shit bullshit damn goddamn bitch bastard bastards crap whore slut cunt "
    "dick pussy".split()
)


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
    vocab_words: int = 12000,
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
        background_words: size of the background pool (the most frequent words).
        vocab_words: the most frequent candidate words that pools are drawn from.
        dev_fraction: share of the queries in dev.
        test_fraction: share of the queries in test.

    Returns:
        The collection, with ``train``/``dev``/``test`` qrels and the parameters in ``info``.
    """
    shares = tuple(float(x) for x in shares)  # a list or ListConfig from a config works too
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in locals().items()}
    if num_queries < 3 or num_docs < 1 or not 2 <= query_length <= words_per_subtopic + 1:
        raise ValueError("need num_queries >= 3, num_docs >= 1, 2 <= query_length <= 1 + Ps")
    if sum(shares) > 1.0 or min(shares) < 0.0:
        raise ValueError(f"shares must be >= 0 and sum to <= 1, got {shares}")
    sizes = (words_per_topic, words_per_subtopic, words_per_facet, background_words, vocab_words)
    path = str(model_path or _default_model_path())
    words, pools = _word_pools(path, num_topics, subtopics_per_topic, num_facets, sizes, seed)
    rng = np.random.default_rng(seed)
    lat = _doc_latents(
        rng, num_docs, num_topics, subtopics_per_topic, num_facets, same_topic_distractor
    )
    tokens = _doc_tokens(rng, lat, pools, doc_length, shares, zipf)  # [N, L]
    q_src = rng.integers(num_docs, size=num_queries)
    q_sub, q_facet = lat["sub"][q_src], lat["facet"][q_src]
    q_tokens = _query_tokens(rng, q_sub, q_facet, pools, query_length, zipf)
    doc_ids = _ids("d", num_docs)
    query_ids = _ids("q", num_queries)
    qrels = _split_qrels(
        rng, _judge(lat, q_sub, q_facet, doc_ids, query_ids), dev_fraction, test_fraction
    )
    doc_texts = [" ".join(words[row]) for row in tokens]
    query_texts = [" ".join(words[row]) for row in q_tokens]
    info = {
        "num_docs": num_docs,
        "num_queries": num_queries,
        "qrels_rows": {s: sum(map(len, q.values())) for s, q in qrels.items()},
        "judged_queries": {s: len(q) for s, q in qrels.items()},
        "generator": {k: v for k, v in params.items() if k not in ("name", "model_path")},
    }
    info.update(doc_stats(doc_ids, doc_texts))
    log.info(
        "%s: %d docs, %d queries, qrels rows %s", name, num_docs, num_queries, info["qrels_rows"]
    )
    return Collection(name, doc_ids, doc_texts, query_ids, query_texts, qrels, info)


def _default_model_path() -> Path:
    from zelo.models.encoders import minilm_path

    return Path(minilm_path())


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
    use_inside = rng.random(n) < same_topic
    if topics == 1 or subs == 1:  # the distractor can only be inside, or only outside, the topic
        use_inside[:] = topics == 1
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
    rows = dict(lat, background=np.zeros_like(lat["sub"]))  # pool row of each category
    probs = [*shares, 1.0 - sum(shares)]
    category = rng.choice(len(probs), size=(len(rows["sub"]), length), p=probs)
    out = np.zeros(category.shape, dtype=np.int64)
    for c, key in enumerate(("sub", "topic", "facet", "distractor", "background")):
        pool = pools["sub" if key == "distractor" else key]
        out = np.where(category == c, _draw(rng, pool, rows[key], length, zipf), out)
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
    sub_words = _draw(rng, pools["sub"], sub, length - 1, zipf, replace=False)
    tokens = np.concatenate([sub_words, _draw(rng, pools["facet"], facet, 1, zipf)], axis=1)
    return rng.permuted(tokens, axis=1)


def _draw(
    rng: np.random.Generator,
    pool: np.ndarray,
    rows: np.ndarray,
    k: int,
    zipf: float,
    replace: bool = True,
) -> np.ndarray:
    """``k`` Zipf-distributed words per row of ``pool [R, P]``: ``rows [n]`` -> ``[n, k]``."""
    log_w = np.log(_zipf_weights(pool.shape[1], zipf))
    if replace:
        rank = rng.choice(pool.shape[1], size=(len(rows), k), p=np.exp(log_w))
    else:  # Gumbel top-k: k distinct words, drawn one after the other by weight
        rank = np.argsort(-(log_w + rng.gumbel(size=(len(rows), pool.shape[1]))), axis=1)[:, :k]
    return pool[rows[:, None], rank]


def _judge(
    lat: dict[str, np.ndarray],
    q_sub: np.ndarray,
    q_facet: np.ndarray,
    doc_ids: list[str],
    query_ids: list[str],
) -> Qrels:
    """Exhaustive grades: 2 = same subtopic and facet, 1 = same subtopic."""
    members: dict[int, list[int]] = {}
    for d, g in enumerate(lat["sub"].tolist()):
        members.setdefault(g, []).append(d)
    facet = lat["facet"].tolist()
    return {
        qid: {doc_ids[d]: 2 if facet[d] == f else 1 for d in members[g]}
        for qid, g, f in zip(query_ids, q_sub.tolist(), q_facet.tolist(), strict=True)
    }


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
    model_path: str, topics: int, subs: int, facets: int, sizes: tuple[int, ...], seed: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Candidate words and the pools as word indices (cached: the clustering is the slow part).

    ``sizes`` holds the words per topic, subtopic and facet pool, the background size and the
    number of candidate words used. The clustering runs on one thread: on a loaded machine more
    threads slow these small products down several times.

    Returns:
        ``words`` (object array) and pools ``sub [T*S, Ps]``, ``topic [T, Pt]``,
        ``facet [F, Pf]``, ``background [1, B]``; each row nearest to its cluster centre first.
    """
    per_topic, per_sub, per_facet, background, vocab_words = sizes
    words, vectors = _vocabulary(model_path)
    quotas = [per_topic + subs * per_sub] * topics + [per_facet] * facets
    if background + sum(quotas) > min(len(words), vocab_words):
        raise ValueError(f"{vocab_words} vocabulary words cannot fill {background + sum(quotas)}")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pools = _cluster_pools(vectors[background:vocab_words], topics, subs, facets, sizes, seed)
    finally:
        torch.set_num_threads(threads)
    pools = {k: v + background for k, v in pools.items()}
    pools["background"] = np.arange(background)[None, :]
    return words, pools


def _cluster_pools(
    x: torch.Tensor, topics: int, subs: int, facets: int, sizes: tuple[int, ...], seed: int
) -> dict[str, np.ndarray]:
    """Topic, subtopic and facet pools as row indices into the unit word vectors ``x [V, D]``."""
    per_topic, per_sub, per_facet = sizes[:3]
    quotas = [per_topic + subs * per_sub] * topics + [per_facet] * facets
    picks = _balanced_pick(x @ _kmeans(x, topics + facets, seed).T, quotas)
    topic_pool, sub_pool = [], []
    for pick in picks[:topics]:  # the words nearest the centre are the topic's own words
        topic_pool.append(pick[:per_topic])
        rest = pick[per_topic:]
        sims = x[rest] @ _kmeans(x[rest], subs, seed).T  # [S * Ps, S]
        sub_pool.extend(rest[p] for p in _balanced_pick(sims, [per_sub] * subs))
    facet_pool = np.stack(picks[topics:]).reshape(facets, per_facet)
    return {"sub": np.stack(sub_pool), "topic": np.stack(topic_pool), "facet": facet_pool}


def _vocabulary(model_path: str) -> tuple[np.ndarray, torch.Tensor]:
    """Candidate words and their unit-normalised input embeddings ``[V, D]`` (float64).

    Candidates are the whole lower-case alphabetic entries (length >= 3), in vocabulary order,
    which is roughly by frequency.
    """
    from safetensors.torch import load_file

    folder = Path(model_path)
    vocab = (folder / "vocab.txt").read_text(encoding="utf-8").splitlines()
    rows = [
        i
        for i, w in enumerate(vocab)
        if w.isascii() and w.isalpha() and w.islower() and len(w) >= 3 and w not in _EXCLUDED
    ]
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

    Returns the row indices per cluster, nearest first, given ``sims [V, K]`` (row to centre).
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
