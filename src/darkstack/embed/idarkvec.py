"""i-DarkVec: incremental gensim Word2Vec (skip-gram) over the daily corpus of senders per port.

Day 1 builds the vocabulary and trains; every later day adds that day's new senders to the vocabulary
(old vectors kept, new ones randomly initialised by gensim) and trains on that day's sentences only.
Sentences come from the snapshot corpus: by default one per port, the senders in time order (as the
temporal-GNN paper describes; the reference instead cuts one day-long stream into 1000-token chunks), or
DarkVec's hourly sentences, or first arrivals only (``w2v_senders``). A sentence longer than gensim's
10 000-token limit is cut into consecutive pieces, which gensim would otherwise truncate.

gensim reads the sentences from Python lists (``w2v_corpus = "memory"``) or, for large telescopes, from a
temporary file of one sentence a line (``"file"``: gensim's ``corpus_file`` mode, whose worker threads
each read their own part of the file without the GIL, so training scales with ``workers``).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from darkstack.embed import checkpoint
from darkstack.embed.settings import EmbedSettings
from darkstack.snapshot import Snapshot


def sentences(snapshot: Snapshot, max_len: int, senders: str = "every") -> list[list[str]]:
    """The day's sentences (IPs as decimal strings), cut at ``max_len`` tokens. ``senders``: ``every`` — one
    sentence per port, its senders in corpus order; ``hourly`` — one per port and UTC hour, each sender once,
    at its first arrival in that hour (DarkVec's sentences); ``first`` — one per port, each sender once."""
    corpus = snapshot.corpus
    if corpus.num_rows == 0:
        return []
    order = np.argsort(corpus.column("seq").to_numpy(), kind="stable")
    ports = corpus.column("port").to_numpy()[order].astype(np.int64)
    ips = corpus.column("ip").to_numpy().astype(np.int64)[order]
    group = ports - ports.min()
    if senders == "hourly":
        group = group * 24 + corpus.column("hour").to_numpy()[order]
    if senders != "every":
        keep = ~pd.Series((group << 32) | ips).duplicated().to_numpy()
        group, ips = group[keep], ips[keep]
    # One str object per distinct sender (its hash is computed once for every dictionary lookup in gensim).
    index, senders_seen = pd.factorize(ips)
    tokens = np.array(senders_seen.astype(str).tolist(), dtype=object)[index]
    at = np.arange(len(group))
    sentence_start = np.maximum.accumulate(np.where(np.r_[True, group[1:] != group[:-1]], at, 0))
    cuts = np.flatnonzero((at - sentence_start) % max_len == 0)
    return [piece.tolist() for piece in np.split(tokens, cuts[1:])]


class IDarkVec:
    """The incremental Word2Vec model of one sensor and its per-day update."""

    def __init__(self, settings: EmbedSettings, seed: int):
        self.settings, self.seed = settings, seed
        self.model = None

    def _new_model(self):
        from gensim.models import Word2Vec

        s = self.settings
        return Word2Vec(
            vector_size=s.embedding_dim,
            window=s.w2v_window,
            min_count=s.w2v_min_count,
            sample=s.w2v_sample,
            negative=s.w2v_negative,
            hs=0,
            sg=1,
            epochs=s.w2v_epochs,
            alpha=s.w2v_alpha,
            min_alpha=s.w2v_min_alpha,
            seed=self.seed,
            workers=s.workers,
        )

    def update(self, snapshot: Snapshot) -> dict:
        """Train on the day's corpus (building or growing the vocabulary); returns training figures."""
        text = sentences(snapshot, self.settings.max_sentence, self.settings.w2v_senders)
        if not text:
            return {"sentences": 0, "tokens": 0, "vocabulary": 0 if self.model is None else len(self.model.wv)}
        update = self.model is not None
        if not update:
            self.model = self._new_model()
        if self.settings.w2v_corpus == "file":
            self._train_from_file(text, update)
        else:
            self.model.build_vocab(text, update=update)
            self.model.train(text, total_examples=len(text), epochs=self.settings.w2v_epochs)
        return {"sentences": len(text), "tokens": int(sum(map(len, text))), "vocabulary": len(self.model.wv)}

    def _train_from_file(self, text: list[list[str]], update: bool) -> None:
        """The same vocabulary update and training pass, gensim reading the sentences from a temporary file."""
        with tempfile.TemporaryDirectory(prefix="darkstack-idarkvec-") as folder:
            path = str(Path(folder) / "sentences.txt")
            with open(path, "w") as out:
                out.writelines(" ".join(sentence) + "\n" for sentence in text)
            self.model.build_vocab(corpus_file=path, update=update)
            self.model.train(corpus_file=path, total_words=self.model.corpus_total_words, epochs=self.settings.w2v_epochs)

    def vectors(self, ips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ips, X) for the given hosts that have a vector (every host of the day's corpus has one)."""
        if self.model is None:
            return np.zeros(0, np.uint32), np.zeros((0, self.settings.embedding_dim), np.float32)
        index = self.model.wv.key_to_index
        rows = np.array([index.get(str(int(ip)), -1) for ip in ips], np.int64)
        keep = rows >= 0
        return np.asarray(ips, np.uint32)[keep], self.model.wv.vectors[rows[keep]].astype(np.float32)

    # --- checkpoint: numpy arrays + JSON (gensim's own save() pickles the model object) -------------
    def save(self, folder: Path, state: dict) -> None:
        m = self.model
        arrays, info = {}, {}
        if m is not None:
            rs = m.random.get_state()
            arrays = {
                "keys": np.array([int(k) for k in m.wv.index_to_key], np.int64),
                "vectors": m.wv.vectors,
                "syn1neg": m.syn1neg,
                "count": np.asarray(m.wv.expandos["count"], np.int64),
                "sample_int": np.asarray(m.wv.expandos["sample_int"], np.uint32),
                "random_keys": np.asarray(rs[1], np.uint32),
            }
            info = {
                "random": [rs[0], int(rs[2]), int(rs[3]), float(rs[4])],
                "corpus_count": m.corpus_count,
                "corpus_total_words": m.corpus_total_words,
                "effective_min_count": m.effective_min_count,
            }
        checkpoint.save_arrays(folder, arrays, {**state, "word2vec": info})

    def load(self, folder: Path) -> dict:
        arrays, state = checkpoint.load_arrays(folder)
        info = state["word2vec"]
        if not info:
            self.model = None
            return state
        m = self._new_model()
        keys = [str(k) for k in arrays["keys"].tolist()]
        m.wv.index_to_key = keys
        m.wv.key_to_index = {k: i for i, k in enumerate(keys)}
        m.wv.vectors = arrays["vectors"].copy()
        m.wv.allocate_vecattrs(attrs=["count", "sample_int"], types=[np.int64, np.uint32])
        m.wv.expandos["count"][:] = arrays["count"]
        m.wv.expandos["sample_int"][:] = arrays["sample_int"]
        m.syn1neg = arrays["syn1neg"].copy()
        m.corpus_count, m.corpus_total_words = info["corpus_count"], info["corpus_total_words"]
        m.effective_min_count = info["effective_min_count"]
        name, pos, has_gauss, cached = info["random"]
        m.random.set_state((name, arrays["random_keys"], pos, has_gauss, cached))
        m.make_cum_table()
        self.model = m
        return state
