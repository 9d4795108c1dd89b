"""Embedding settings: every hyper-parameter of the six methods, defaults = the papers' values."""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

METHODS = ("ds", "idarkvec", "gcn", "igcn", "gcngru", "igcngru")
"""Embedding methods: domain-specific features, i-DarkVec, and the four GNN training regimes."""
GNN_METHODS = ("gcn", "igcn", "gcngru", "igcngru")

# Fields that change speed or disk use but never what is learnt (left out of the settings hash). How gensim
# runs (its threads, its reader) changes the random draws, not the model: like a second worker, not a new variant.
# Chunking the link loss changes only the order in which float gradients are summed (as threads do).
_OPERATIONAL = {"workers", "w2v_corpus", "keep_checkpoints", "link_chunk"}
# Fields added after variants were first fingerprinted: hashed only when set away from their default, so a run at
# the defaults keeps its fingerprint (and its finished days).
_HASHED_WHEN_CHANGED = {"batching", "batch_above", "batch_size", "fanout", "fanout_inner"}


class EmbedSettings(BaseModel):
    """How host embeddings are learnt. Changing a non-operational field recomputes the variant."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    embedding_dim: int = Field(128, ge=1, description="Embedding size E of i-DarkVec and of the GNNs (papers: 128).")
    # --- GNN family (temporal-GNN paper §2, §4.1) ----------------------------------------------------
    hidden_dim: int = Field(1024, ge=1, description="Width of the first graph-convolution layer (paper: 1024).")
    gcn_dim: int = Field(512, ge=1, description="Width of the second graph-convolution layer (paper: 512).")
    head_dim: int = Field(64, ge=1, description="Hidden layer of the link-prediction head (paper: 64).")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate (reference code: 1e-3).")
    weight_decay: float = Field(5e-3, ge=0, description="Adam (coupled L2) weight decay (reference code: 5e-3).")
    negatives: int = Field(1, ge=1, description="Fresh negative host-port pairs per positive edge, every step.")
    weighted: bool = Field(True, description="Weight edges by packets (reference); False gives every edge weight 1.")
    max_epochs: int = Field(50, ge=1, description="Epoch cap of the static GCN and of GCN-GRU training (paper: 50).")
    patience: int = Field(3, ge=1, description="Early-stopping patience on training link accuracy (paper: 3).")
    incremental_epochs: int | None = Field(
        None, ge=1, description="Epochs per day of i-GCN / i-GCN-GRU; None = 1 with node features, 5 without (paper)."
    )
    history: int = Field(5, ge=0, description="GRU history H: the window is the snapshots [t-H ... t] (paper: 5).")
    train_days: int = Field(20, ge=1, description="GCN-GRU is trained on the first M days, then frozen (paper: 20).")
    precision: Literal["fp32", "bf16"] = Field(
        "fp32",
        description="Dtype of the GNN's two large dense products: fp32 (as the paper), or bf16 (about 3x faster on "
        "CPUs with AVX512-BF16 and on GPUs; parameters, sparse products, GRU state and optimiser stay fp32).",
    )
    batching: Literal["auto", "full", "minibatch"] = Field(
        "auto",
        description="GNN training and inference: 'full' batch on the whole window (the paper), 'minibatch' "
        "(neighbour-sampled batches of hosts, memory bounded by the batch), or 'auto': mini-batches when the "
        "target day has more than batch_above active nodes.",
    )
    batch_above: int = Field(
        50_000,
        ge=0,
        description="Active nodes (hosts + ports) of a target day above which 'auto' batching uses mini-batches "
        "(full batch needs 57-85 kB per active node with H = 5, measured: 50 k nodes ≈ 2.9-4.3 GB).",
    )
    batch_size: int = Field(
        16_384,
        ge=1,
        description="Mini-batch: target-day hosts per training step (all their edges are its positives, plus their "
        "negatives) and per inference batch.",
    )
    fanout: int = Field(10, ge=1, description="Mini-batch: neighbours sampled per batch node in each snapshot (layer 2).")
    fanout_inner: int = Field(
        10, ge=1, description="Mini-batch without node features: neighbours sampled per neighbour (layer 1's Â T)."
    )
    link_chunk: int = Field(
        1 << 20,
        ge=1,
        description="Host-port pairs per chunk of the link loss, in full batch and in each mini-batch (exact: the gradient is the unchunked one "
        "up to float summation order; bounds the head's per-pair tensors, ~1.3 GB at 2^20 pairs). The default keeps "
        "a /24 day (~0.3 M pairs) in one chunk, bit-identical to the unchunked step.",
    )
    reference_compat: bool = Field(
        False,
        description="Reproduce the reference code where cheap: GCN-GRU inference window [t-H ... t-1] (day t left "
        "out) and BatchNorm with batch statistics at inference.",
    )
    # --- i-DarkVec (Word2Vec skip-gram; reference-notes §5.2) -----------------------------------------
    w2v_window: int = Field(5, ge=1, description="Word2Vec context window (reference: 5).")
    w2v_negative: int = Field(5, ge=1, description="Word2Vec negative samples (reference: 5).")
    w2v_min_count: int = Field(0, ge=0, description="Word2Vec min_count (reference: 0, every sender is kept).")
    w2v_sample: float = Field(0.0, ge=0, description="Word2Vec sub-sampling threshold (reference: 0, none).")
    w2v_epochs: int = Field(1, ge=1, description="Word2Vec epochs per day (reference: 1).")
    w2v_alpha: float = Field(0.025, gt=0, description="Word2Vec start learning rate (gensim default).")
    w2v_min_alpha: float = Field(1e-4, gt=0, description="Word2Vec final learning rate (gensim default).")
    w2v_senders: Literal["every", "hourly", "first"] = Field(
        "every",
        description="Sentences: 'every' arrival of a sender at a port (consecutive repeats once; the papers' sequence "
        "of senders per port), 'hourly' = one sentence per port and UTC hour with each sender once (DarkVec's "
        "sentences: 5.5x fewer tokens on the paper profile), or each sender's 'first' arrival at the port "
        "that day (about 13x fewer tokens).",
    )
    w2v_corpus: Literal["memory", "file"] = Field(
        "memory",
        description="How gensim reads the day's sentences: 'memory' (Python lists; one worker is deterministic), or "
        "'file' (a temporary one-sentence-a-line file, gensim's corpus_file mode: its workers scale with cores "
        "instead of stalling on the GIL; not bit-reproducible with more than one worker).",
    )
    max_sentence: int = Field(
        10_000, ge=10, le=10_000, description="Longest sentence; longer port sentences are cut (gensim's hard limit)."
    )
    workers: int = Field(
        1, ge=1, description="Word2Vec threads. 1 is deterministic for a seed; more is faster but not reproducible."
    )
    # --- operations -----------------------------------------------------------------------------------
    keep_checkpoints: int = Field(2, ge=0, description="Per-day checkpoints kept (the newest N; 0 keeps every day's).")

    def epochs_per_day(self, features: bool) -> int:
        """Incremental epochs per day: the setting, else the paper's 1 with node features and 5 without."""
        if self.incremental_epochs is not None:
            return self.incremental_epochs
        return 1 if features else 5

    def minibatch(self, active_nodes: int) -> bool:
        """Whether a target day with ``active_nodes`` hosts + ports is trained and embedded in mini-batches."""
        return self.batching == "minibatch" or (self.batching == "auto" and active_nodes > self.batch_above)

    def relevant(self, method: str) -> dict:
        """The fields that change ``method``'s embeddings (what run.json records and the hash covers)."""
        defaults = type(self)()
        changed = {k for k in _HASHED_WHEN_CHANGED if getattr(self, k) != getattr(defaults, k)}
        fields = self.model_dump(exclude=_OPERATIONAL | (_HASHED_WHEN_CHANGED - changed))
        if method == "ds":
            return {}
        word2vec = {k for k in fields if k.startswith("w2v_")} | {"max_sentence", "embedding_dim"}
        if method == "idarkvec":
            return {k: v for k, v in fields.items() if k in word2vec}
        return {k: v for k, v in fields.items() if k not in word2vec or k == "embedding_dim"}

    def fingerprint(self, method: str) -> str:
        """Short stable hash of the fields that change ``method``'s embeddings."""
        text = json.dumps(self.relevant(method), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]
