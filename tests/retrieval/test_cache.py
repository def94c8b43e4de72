from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from zelo.retrieval import cache
from zelo.retrieval.cache import cache_key, cached_encode

TEXTS = ["the cat sat", "a dog ran far", "", "cat and dog"]


def test_second_call_is_a_hit(tmp_path, hash_encoder):
    enc = hash_encoder()
    first = cached_encode(enc, TEXTS, tmp_path)
    second = cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 1
    assert torch.equal(first, second) and first.shape == (4, 8)
    torch.testing.assert_close(first, enc.encode(TEXTS))
    sidecar = json.loads(next(tmp_path.glob("*.json")).read_text())
    assert sidecar["count"] == 4 and sidecar["encoder"]["class"] == "HashEncoder"


def test_misses_on_other_texts_side_or_weights(tmp_path, hash_encoder):
    enc = hash_encoder()
    cached_encode(enc, TEXTS, tmp_path)
    cached_encode(enc, TEXTS[:3], tmp_path)
    cached_encode(enc, TEXTS, tmp_path, is_query=True)
    assert enc.calls == 3
    with torch.no_grad():
        enc.emb.weight[1:] += 1.0
    cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 4
    assert len(list(tmp_path.glob("*.npy"))) == 4


def test_key_is_unambiguous():
    assert cache_key("f", ["a b"], False) != cache_key("f", ["a", "b"], False)
    assert cache_key("f", ["ab", ""], False) != cache_key("f", ["a", "b"], False)


def test_corrupt_or_mismatched_file_is_recomputed(tmp_path, caplog, hash_encoder):
    enc = hash_encoder()
    ref = cached_encode(enc, TEXTS, tmp_path)
    path = next(tmp_path.glob("*.npy"))
    path.write_bytes(b"not an array")
    torch.testing.assert_close(cached_encode(enc, TEXTS, tmp_path), ref)
    assert enc.calls == 2 and "recomputing" in caplog.text
    np.save(path, np.zeros((2, 8), dtype=np.float32))
    torch.testing.assert_close(cached_encode(enc, TEXTS, tmp_path), ref)
    assert enc.calls == 3
    cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 3  # the rewritten file is good again


def test_no_cache_dir_always_encodes(tmp_path, hash_encoder):
    enc = hash_encoder()
    cached_encode(enc, TEXTS, None)
    cached_encode(enc, TEXTS, None)
    assert enc.calls == 2


def test_chunked_encoding_resumes_after_a_kill(tmp_path, hash_encoder, monkeypatch):
    monkeypatch.setattr(cache, "CHUNK_ROWS", 3)
    texts = [f"text number {i} {'word ' * (i % 4)}" for i in range(10)]
    ref = hash_encoder().encode(texts)

    class Killed(Exception):
        pass

    dying = hash_encoder()
    original = dying.encode

    def encode_then_die(chunk, *args, **kwargs):
        if dying.calls == 2:  # two chunks written, killed in the third
            raise Killed
        return original(chunk, *args, **kwargs)

    dying.encode = encode_then_die
    with pytest.raises(Killed):
        cached_encode(dying, texts, tmp_path)
    assert not list(tmp_path.glob("*.npy")) and list(tmp_path.glob("*.partial"))
    resumed = hash_encoder()
    emb = cached_encode(resumed, texts, tmp_path)
    assert resumed.calls == 2  # the chunks of rows 6-8 and 9 only
    torch.testing.assert_close(emb, ref)
    assert not list(tmp_path.glob("*.partial*")) and len(list(tmp_path.glob("*.npy"))) == 1


def test_a_damaged_entry_fails_its_checksum_and_is_encoded_again(tmp_path, caplog, hash_encoder):
    enc = hash_encoder()
    ref = cached_encode(enc, TEXTS, tmp_path)
    path = next(tmp_path.glob("*.npy"))
    offset = len(path.read_bytes()) - ref.numel() * 4
    data = bytearray(path.read_bytes())
    data[offset:] = bytes(len(data) - offset)  # every value zeroed, the header intact
    path.write_bytes(bytes(data))
    again = cached_encode(enc, TEXTS, tmp_path)
    torch.testing.assert_close(again, ref)
    assert enc.calls == 2 and "fails its checksum (rows 0-3): recomputing" in caplog.text
    sidecar = json.loads(path.with_suffix(".json").read_text())
    assert sidecar["checksum"]["algorithm"] == "xxh3_64" and len(sidecar["checksum"]["blocks"]) == 1


def test_an_entry_without_checksum_is_encoded_again(tmp_path, caplog, hash_encoder):
    enc = hash_encoder()
    cached_encode(enc, TEXTS, tmp_path)
    sidecar = next(tmp_path.glob("*.json"))
    meta = json.loads(sidecar.read_text())
    del meta["checksum"]
    sidecar.write_text(json.dumps(meta))
    cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 2 and "has no checksum" in caplog.text
    cached_encode(enc, TEXTS, tmp_path)
    assert enc.calls == 2  # written again with one


def test_repeated_reads_check_sampled_blocks(tmp_path, hash_encoder, monkeypatch):
    monkeypatch.setattr(cache, "CHUNK_ROWS", 1)  # one block per text
    texts = [f"text {i}" for i in range(10)]
    enc = hash_encoder()
    ref = cached_encode(enc, texts, tmp_path)  # written, then read back: checked in full
    calls = enc.calls
    checked = []
    original = cache.block_checksum

    def counting(rows):
        checked.append(len(rows))
        return original(rows)

    monkeypatch.setattr(cache, "block_checksum", counting)
    torch.testing.assert_close(cached_encode(enc, texts, tmp_path), ref)
    assert enc.calls == calls
    assert 2 <= len(checked) <= 2 + cache.SAMPLED_BLOCKS  # first, last and sampled, not all 10
    cache._verified.clear()  # as a new process: every block again
    checked.clear()
    cached_encode(enc, texts, tmp_path)
    assert len(checked) == 10


def test_a_second_process_missing_the_same_entry_waits_and_reads_it(tmp_path, hash_encoder, caplog):
    import logging
    import shutil
    import threading

    enc = hash_encoder()
    path = tmp_path / "shared" / f"{cache_key(enc.fingerprint(), TEXTS, False)}.npy"
    got = {}
    with caplog.at_level(logging.INFO, logger="zelo.retrieval.cache"):
        with cache.encoding_turn(path):  # another process is encoding this entry
            waiter = threading.Thread(
                target=lambda: got.update(emb=cached_encode(enc, TEXTS, path.parent))
            )
            waiter.start()
            waiter.join(timeout=1.0)
            assert waiter.is_alive() and enc.calls == 0  # it waits rather than encode too
            other = hash_encoder()  # what the other process writes meanwhile
            cached_encode(other, TEXTS, tmp_path / "elsewhere")
            for f in (tmp_path / "elsewhere").glob(f"{path.stem}.*"):
                shutil.copy(f, path.parent / f.name)
        waiter.join(timeout=30)
    assert not waiter.is_alive() and enc.calls == 0  # read the other's entry, encoded nothing
    torch.testing.assert_close(got["emb"], enc.encode(TEXTS))
    assert "another process is encoding" in caplog.text and "hit after waiting" in caplog.text
