"""Encode collections' corpora once into the embedding cache, for every dense scorer of the ladder.

The encoders are built from the scorer configs (``conf/miner/scorer/<name>.yaml``) exactly as a
training run builds them, so the cache keys (encoder fingerprint, side, texts) are the ones the
runs look up. Chunks of ``--chunk`` documents are written as they finish: a killed encoding
resumes from its last chunk (mpnet encodes a few documents per second on a 2-core CPU).

Usage: python bench/encode_corpora.py --datasets cranfield nfcorpus scifact \
           --scorers minilm_l3 minilm mpnet [--chunk 256]
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import zelo.retrieval.cache as cache
from zelo.schemas import CONF_DIR, register_configs

log = logging.getLogger("encode_corpora")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["cranfield", "nfcorpus", "scifact"])
    parser.add_argument("--scorers", nargs="+", default=["minilm_l3", "minilm", "mpnet"])
    parser.add_argument("--chunk", type=int, default=256, help="documents per chunk written")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    cache.CHUNK_ROWS = args.chunk  # resumable in small steps; the cache key does not depend on it
    register_configs()
    for name in args.datasets:
        for scorer in args.scorers:
            with initialize_config_dir(config_dir=CONF_DIR, version_base="1.3"):
                cfg = compose(
                    "train",
                    overrides=[f"dataset={name}", f"miner/scorer={scorer}", "hydra.job.num=0"],
                    return_hydra_config=True,
                )
            from hydra.core.hydra_config import HydraConfig

            HydraConfig().set_config(cfg)
            collection = instantiate(cfg.dataset.source)
            dense = instantiate(cfg.miner.scorer)
            start = time.perf_counter()
            emb = cache.cached_encode(
                dense.encoder,
                collection.doc_texts,
                dense.cache_dir,
                dense.batch_size,
                progress=f"{scorer} {name}",
            )
            seconds = time.perf_counter() - start
            load = os.getloadavg()[0]
            print(
                f"{name} {scorer}: {tuple(emb.shape)} in {seconds:.1f} s "
                f"(load {load:.1f}); cache {dense.cache_dir}",
                flush=True,
            )


if __name__ == "__main__":
    main()
