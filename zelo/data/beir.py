"""Load a collection in BEIR layout (``corpus.jsonl``, ``queries.jsonl``, ``qrels/<split>.tsv``).

Every file may be plain or gzip-compressed (``.gz`` suffix); when both exist the plain file wins.
Malformed input raises :class:`DataError` naming the file and the line.
"""

from __future__ import annotations

import gzip
import json
import logging
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from zelo.errors import ZeloError
from zelo.types import Collection, Qrels

log = logging.getLogger(__name__)

MAX_LISTED_IDS = 20


class DataError(ZeloError, ValueError):
    """A collection is missing or malformed."""


def load_beir(path: str | Path, name: str | None = None, path_key: str | None = None) -> Collection:
    """Read a BEIR folder into a :class:`Collection`, with every qrels split found.

    Document text is ``(title + " " + text).strip()``; query text is ``text``. Qrels rows with
    score <= 0 mean "not relevant" and are dropped (counted in ``info["qrels_dropped"]``). A
    qrels file's first line is a header only when its score is not an integer and its ids are
    not a known query and document. Empty documents and empty queries are kept, with a warning.

    Args:
        path: the collection folder (holding ``corpus.jsonl`` or ``corpus.jsonl.gz``).
        name: short name for logs; defaults to the folder name.
        path_key: the config key ``path`` came from (``dataset.path``), named in the error when
            the folder is missing; ``None`` (a collection found under the data folder) names
            ``ZELO_DATA_DIR`` and the download command instead.

    Returns:
        The collection. ``info`` holds ``num_docs``, ``num_queries``, per split ``qrels_rows``
        (rows read, header excluded), ``judged_queries`` (queries with a relevant document) and
        ``qrels_dropped`` (rows with score <= 0), ``empty_docs`` (``count`` and up to 20 ``ids``),
        ``duplicate_doc_groups`` (lists of doc ids with identical non-empty text) and
        ``duplicate_doc_count`` (documents that belong to such a group), ``empty_queries``
        (``count`` and up to 20 ``ids``: queries whose text is empty or blank; kept, with a
        warning).

    Raises:
        DataError: the folder or a file is missing, or a file is malformed.
    """
    folder = Path(path)
    name = name or folder.name
    corpus_path = _find(folder, "corpus.jsonl")
    queries_path = _find(folder, "queries.jsonl")
    if not folder.is_dir() or corpus_path is None or queries_path is None:
        raise DataError(_missing_message(folder, name, path_key))
    doc_ids, doc_texts = _read_records(corpus_path, with_title=True)
    query_ids, query_texts = _read_records(queries_path, with_title=False)
    for what, ids, file in (
        ("documents", doc_ids, corpus_path),
        ("queries", query_ids, queries_path),
    ):
        if not ids:
            raise DataError(f"{file}: no {what} (the file is empty)")
    doc_index = {d: i for i, d in enumerate(doc_ids)}
    query_index = {q: i for i, q in enumerate(query_ids)}
    qrels: dict[str, Qrels] = {}
    info: dict = {"num_docs": len(doc_ids), "num_queries": len(query_ids)}
    info.update(qrels_rows={}, judged_queries={}, qrels_dropped={})
    for split, qrels_path in _qrels_files(folder).items():
        qrels[split], rows, dropped = _read_qrels(qrels_path, query_index, doc_index)
        info["qrels_rows"][split] = rows
        info["judged_queries"][split] = len(qrels[split])
        info["qrels_dropped"][split] = dropped
    if not qrels:
        raise DataError(f"{folder / 'qrels'}: no <split>.tsv or <split>.tsv.gz file found")
    info.update(doc_stats(doc_ids, doc_texts))
    empty_queries = [q for q, t in zip(query_ids, query_texts, strict=True) if not t.strip()]
    info["empty_queries"] = {"count": len(empty_queries), "ids": empty_queries[:MAX_LISTED_IDS]}
    if empty_queries:  # kept, as empty documents are: the query set stays the published one
        log.warning(
            "%s: %d queries with empty text (kept; each encodes as an empty string): ids %s",
            queries_path,
            len(empty_queries),
            ", ".join(empty_queries[:MAX_LISTED_IDS]),
        )
    log.info(
        "%s: %d docs, %d queries, qrels rows %s",
        name,
        len(doc_ids),
        len(query_ids),
        info["qrels_rows"],
    )
    if info["duplicate_doc_groups"] or info["empty_docs"]["count"]:
        log.warning(
            "%s: %d groups of documents with identical text, %d empty documents",
            name,
            len(info["duplicate_doc_groups"]),
            info["empty_docs"]["count"],
        )
    return Collection(name, doc_ids, doc_texts, query_ids, query_texts, qrels, info)


def doc_stats(doc_ids: list[str], doc_texts: list[str]) -> dict:
    """Empty documents and groups of documents with identical (non-empty) text.

    Returns:
        ``{"empty_docs": {"count", "ids"}, "duplicate_doc_groups", "duplicate_doc_count"}``;
        ``ids`` lists at most 20 ids; groups and the ids inside them are in corpus order.
    """
    empty = [d for d, t in zip(doc_ids, doc_texts, strict=True) if not t]
    by_text: dict[str, list[str]] = {}
    for d, t in zip(doc_ids, doc_texts, strict=True):
        if t:
            by_text.setdefault(t, []).append(d)
    groups = [ids for ids in by_text.values() if len(ids) > 1]
    return {
        "empty_docs": {"count": len(empty), "ids": empty[:MAX_LISTED_IDS]},
        "duplicate_doc_groups": groups,
        "duplicate_doc_count": sum(len(g) for g in groups),
    }


def _missing_message(folder: Path, name: str, path_key: str | None = None) -> str:
    what = "folder not found" if not folder.is_dir() else "no corpus.jsonl or queries.jsonl"
    if path_key is not None:  # the user named the folder: no data-dir or download hint
        return (
            f"dataset {name!r}: {what} at {folder} (from {path_key}). Set {path_key} to a BEIR "
            "folder holding corpus.jsonl[.gz], queries.jsonl[.gz] and qrels/<split>.tsv."
        )
    return (
        f"dataset {name!r}: {what} at {folder}. Set ZELO_DATA_DIR (or paths.data_dir=...) to a "
        f"folder holding {name}/corpus.jsonl, or run `python -m zelo.data.download {name}`."
    )


def _find(folder: Path, filename: str) -> Path | None:
    """``folder/filename`` if it exists, else ``folder/filename.gz``, else None."""
    for candidate in (folder / filename, folder / f"{filename}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _open(path: Path) -> IO[bytes]:
    return gzip.open(path, "rb") if path.suffix == ".gz" else path.open("rb")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """Non-blank lines with their 1-based line numbers, line ending removed.

    Raises:
        DataError: a line is not UTF-8, or a ``.gz`` file is truncated or corrupt (the message
            names the file and the line).
    """
    lineno = 0
    with _open(path) as fh:
        raw_lines = iter(fh)
        while True:
            try:
                raw = next(raw_lines)
            except StopIteration:
                return
            except (EOFError, gzip.BadGzipFile, zlib.error) as err:
                raise DataError(
                    f"{path}, line {lineno + 1}: corrupt or truncated gzip data ({err})"
                ) from None
            lineno += 1
            line = _decode(raw, path, lineno).rstrip("\r\n")
            if line.strip():
                yield lineno, line


def _decode(raw: bytes, path: Path, lineno: int) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise DataError(
            f"{path}, line {lineno}: not UTF-8 (byte 0x{raw[err.start]:02x} at column "
            f"{err.start + 1}); re-encode the file as UTF-8"
        ) from None
    return text.removeprefix("\ufeff") if lineno == 1 else text


def _read_records(path: Path, with_title: bool) -> tuple[list[str], list[str]]:
    """Ids and texts of a JSONL file of ``{"_id", "text", ["title"]}`` objects."""
    ids: list[str] = []
    texts: list[str] = []
    seen: dict[str, int] = {}
    for lineno, line in _lines(path):
        where = f"{path}, line {lineno}"
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: invalid JSON ({err.msg})") from None
        if not isinstance(rec, dict):
            raise DataError(f"{where}: expected a JSON object, got {type(rec).__name__}")
        for key in ("_id", "text"):
            if key not in rec:
                raise DataError(f"{where}: missing field {key!r}")
        rid, text = rec["_id"], rec["text"]
        if not isinstance(rid, (str, int)) or not isinstance(text, str):
            raise DataError(f"{where}: '_id' must be a string and 'text' a string")
        rid = str(rid)
        if rid in seen:
            raise DataError(f"{where}: duplicate id {rid!r} (first on line {seen[rid]})")
        seen[rid] = lineno
        title = rec.get("title") if with_title else None
        ids.append(rid)
        texts.append(f"{title} {text}".strip() if isinstance(title, str) and title else text)
    return ids, texts


def _qrels_files(folder: Path) -> dict[str, Path]:
    """Split name -> qrels file, sorted by split name (plain file preferred over ``.gz``)."""
    qdir = folder / "qrels"
    if not qdir.is_dir():
        return {}
    found: dict[str, Path] = {}
    for p in sorted(qdir.iterdir()):
        for suffix in (".tsv", ".tsv.gz"):
            if p.is_file() and p.name.endswith(suffix):
                split = p.name[: -len(suffix)]
                if split not in found or suffix == ".tsv":
                    found[split] = p
    return dict(sorted(found.items()))


def _read_qrels(
    path: Path, query_index: dict[str, int], doc_index: dict[str, int]
) -> tuple[Qrels, int, int]:
    """Parse ``query-id<TAB>corpus-id<TAB>score`` rows.

    Returns:
        qrels (score > 0 only), rows read (header excluded) and rows dropped for score <= 0.
    """
    qrels: Qrels = {}
    rows = dropped = 0
    for lineno, line in _lines(path):
        where = f"{path}, line {lineno}"
        cols = line.split("\t")
        if len(cols) != 3:
            raise DataError(f"{where}: expected 3 tab-separated columns, got {len(cols)}")
        qid, did, raw = cols
        try:
            score = int(raw)
        except ValueError:
            if lineno == 1 and not (qid in query_index and did in doc_index):
                continue  # a header ("query-id corpus-id score"): its ids are column names
            raise DataError(f"{where}: score {raw!r} is not an integer") from None
        if qid not in query_index:
            raise DataError(f"{where}: unknown query id {qid!r}")
        if did not in doc_index:
            raise DataError(f"{where}: unknown document id {did!r}")
        rows += 1
        if score <= 0:
            dropped += 1
            continue
        judged = qrels.setdefault(qid, {})
        judged[did] = max(score, judged.get(did, score))
    return qrels, rows, dropped
