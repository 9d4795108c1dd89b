"""The four GNN training regimes of the temporal-GNN paper (reference-notes §4.4, minus its bugs).

* gcn: for every day a fresh model, ≤ max_epochs full-batch steps on that day, early stopping on the
  training link accuracy (patience 3), the best epoch's weights embed the day.
* igcn: one model; each day ``epochs_per_day`` steps on the day's graph, then it embeds the day.
* gcngru: trained on the windows [t-H … t] of the first M days (t = H+1 … M), epochs with early stopping,
  then frozen; every later day t is embedded from the window that includes t.
* igcngru: one model; each day ``epochs_per_day`` steps on the window [t-H … t] (shorter at the start),
  then it embeds that window.
One epoch = one full-batch step: all the target day's edges as positives, ``negatives`` fresh non-edges
per positive. Above ``batch_above`` active nodes (or with ``batching = "minibatch"``) an epoch is instead
one pass over the day's hosts in shuffled batches of ``batch_size`` hosts, each with all its hosts' edges as
positives (plus their negatives), each step on the batch nodes' sampled neighbourhoods (embed.sampling), and
inference embeds the hosts in batches with every neighbour kept. Inference runs in eval() under no_grad. Adam state persists across days.
"""

from __future__ import annotations

import copy
import dataclasses
import time

import numpy as np
import torch

from darkstack.embed import checkpoint
from darkstack.embed.models import DeviceGraph, LinkModel, build_model
from darkstack.embed.sampling import HostBatch, Neighbours, WindowSampler, host_batches
from darkstack.embed.settings import EmbedSettings
from darkstack.embed.windows import (
    DayGraph,
    NegativePool,
    Window,
    build_day_graph,
    draw_negatives,
    make_window,
    sample_negatives,
    window_positions,
)
from darkstack.errors import ConfigError


def derive_seed(seed: int, *parts: int) -> int:
    """A 63-bit seed derived from ``seed`` and ``parts`` (every random source is keyed this way)."""
    return int(np.random.SeedSequence([seed, *parts]).generate_state(2, np.uint64)[0] >> np.uint64(1))


class GraphCache:
    """Day graphs on the device, built once per day and kept while a window still needs them."""

    def __init__(self, session, features: bool, weighted: bool, device: torch.device):
        self.session, self.features, self.weighted, self.device = session, features, weighted, device
        self.graphs: dict = {}
        self.neighbours: dict = {}  # day → Neighbours, built when a mini-batch window first samples the day

    def get(self, index: int) -> DeviceGraph:
        day = self.session.days[index]
        if day not in self.graphs:
            snap = self.session.snapshot(index)
            where = str(self.session.ws.snapshot_dir(self.session.sensor, day))
            graph = build_day_graph(snap, features=self.features, weighted=self.weighted, where=where)
            self.graphs[day] = DeviceGraph.build(graph, self.device)
        return self.graphs[day]

    def window(self, positions: list[int], target: int, *, retain: bool = False) -> tuple[Window, dict]:
        """The window of snapshots at ``positions`` for the day at ``target``. Graphs the window does not
        need are dropped, unless ``retain`` (GCN-GRU training revisits its days every epoch)."""
        wanted = {self.session.days[i] for i in [*positions, target]}
        graphs = {i: self.get(i) for i in sorted({*positions, target})}
        if not retain:
            self.graphs = {d: g for d, g in self.graphs.items() if d in wanted}
            self.neighbours = {d: nb for d, nb in self.neighbours.items() if d in wanted}
        window = make_window(graphs[target].graph, [graphs[i].graph for i in positions])
        return window, {g.graph.day: g for g in graphs.values()}

    def sampler(self, window: Window, settings: EmbedSettings) -> WindowSampler:
        """The neighbour sampler of ``window`` with the settings' fan-outs."""
        for snap in window.snapshots:
            if snap.day not in self.neighbours:
                self.neighbours[snap.day] = Neighbours.of(snap)
        return WindowSampler(
            window,
            self.neighbours,
            fanout=settings.fanout,
            inner_fanout=settings.fanout_inner,
            inner=not self.features,
        )


def new_optimizer(model: LinkModel, settings: EmbedSettings) -> torch.optim.Adam:
    return torch.optim.Adam(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)


def grow_table(model: LinkModel, optimizer, window: Window, seed: int, day_ordinal: int) -> None:
    """Give every node of the window a row in the no-features input table (Adam moments start at 0)."""
    table = model.encoder.stack.table
    if table is None:
        return
    keys = np.concatenate([s.keys for s in window.snapshots] + [window.target.keys])
    new = table.missing(keys)
    if len(new) == 0:
        return
    generator = torch.Generator().manual_seed(derive_seed(seed, day_ordinal, 1))
    old, fresh = table.grow(new, generator)
    if optimizer is None:
        return
    for group in optimizer.param_groups:
        group["params"] = [fresh if p is old else p for p in group["params"]]
    state = optimizer.state.pop(old, None)
    if state:
        for name in ("exp_avg", "exp_avg_sq"):
            pad = torch.zeros(len(new), old.shape[1], dtype=state[name].dtype, device=state[name].device)
            state[name] = torch.cat([state[name], pad])
        optimizer.state[fresh] = state


def link_step(
    model: LinkModel, optimizer, window: Window, graphs: dict, rng: np.random.Generator, negatives: int, chunk: int
) -> tuple[float, float]:
    """One full-batch optimisation step, the link loss taken ``chunk`` pairs at a time (LinkModel.link_backward);
    returns (loss, link accuracy) of the forward pass before the step."""
    model.train()
    target = window.target
    neg_h, neg_p = sample_negatives(target, negatives * len(target.edge_host), rng)
    device = next(model.parameters()).device
    hosts = torch.from_numpy(np.concatenate([target.edge_host, neg_h])).to(device)
    ports = torch.from_numpy(np.concatenate([target.edge_port, neg_p])).to(device)
    labels = torch.cat([torch.ones(len(target.edge_host)), torch.zeros(len(neg_h))]).long().to(device)
    optimizer.zero_grad(set_to_none=True)
    loss, correct = model.link_backward(model.encoder(window, graphs), hosts, ports, labels, chunk)
    optimizer.step()
    return loss, correct / len(labels)


def batch_pairs(
    target: DayGraph, day_pool: NegativePool, batch: HostBatch, negatives: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hosts, ports, labels) of a host batch: every edge of its hosts as a positive, then ``negatives``
    fresh non-edges per positive drawn as in full batch (``day_pool``) but with the host from the batch's
    hosts with an edge (over an epoch each host is drawn about as often as in the full-batch step)."""
    edge_host, edge_port = target.edge_host[batch.edges], target.edge_port[batch.edges]
    pool = dataclasses.replace(  # the batch's edge codes are sorted, as the day's edges
        day_pool, hosts=np.unique(edge_host), edge_codes=edge_host * target.n_nodes + edge_port
    )
    neg_h, neg_p = draw_negatives(pool, negatives * len(batch.edges), rng)
    hosts, ports = np.concatenate([edge_host, neg_h]), np.concatenate([edge_port, neg_p])
    return hosts, ports, np.concatenate([np.ones(len(batch.edges), np.int64), np.zeros(len(neg_h), np.int64)])


def link_epoch(
    model: LinkModel, optimizer, sampler: WindowSampler, graphs: dict, rng: np.random.Generator, negatives: int,
    batches: list[HostBatch], chunk: int,
) -> tuple[float, float]:
    """One epoch in mini-batches (``batches`` = ``host_batches`` of the target day): one step per host batch on
    the sampled neighbourhoods of its hosts and of the ports of its pairs (``batch_pairs``). Returns (loss, link
    accuracy) over the epoch's pairs, each measured before its step. The link head runs over a batch's pairs
    ``chunk`` at a time (``LinkModel.link_backward``, exact)."""
    model.train()
    target = sampler.window.target
    device = next(model.parameters()).device
    day_pool, loss_sum, correct, pairs = NegativePool.of(target), 0.0, 0, 0
    for seeds in batches:
        hosts, ports, labels = batch_pairs(target, day_pool, seeds, negatives, rng)
        if len(labels) == 0:
            continue
        batch = sampler.batch(np.concatenate([hosts, ports]), rng)
        pair_hosts, pair_ports, truth = (
            torch.from_numpy(v).to(device)
            for v in (np.searchsorted(batch.nodes, hosts), np.searchsorted(batch.nodes, ports), labels)
        )
        optimizer.zero_grad(set_to_none=True)
        loss, right = model.link_backward(model.encoder.forward_batch(batch, graphs), pair_hosts, pair_ports, truth, chunk)
        optimizer.step()
        loss_sum += loss * len(labels)
        correct += right
        pairs += len(labels)
    return loss_sum / pairs, correct / pairs


@torch.no_grad()
def embed_hosts_batched(model: LinkModel, sampler: WindowSampler, graphs: dict, batch_size: int) -> np.ndarray:
    """The target day's host embeddings in batches of ``batch_size`` hosts, every neighbour kept: equal to
    ``embed_hosts`` up to float rounding (BatchNorm uses its running statistics in eval mode)."""
    n_hosts = sampler.window.target.n_hosts
    if n_hosts == 0:
        return np.zeros((0, model.encoder.norm.num_features), np.float32)
    model.eval()
    parts = [
        model.encoder.forward_batch(sampler.batch(chunk, None, full=True), graphs).cpu().numpy()
        for chunk in np.array_split(np.arange(n_hosts), max(1, -(-n_hosts // batch_size)))
    ]
    return np.concatenate(parts).astype(np.float32)


@torch.no_grad()
def embed_hosts(model: LinkModel, window: Window, graphs: dict) -> np.ndarray:
    """The target day's host embeddings [n_hosts, E], model in eval() mode under no_grad."""
    if window.target.n_hosts == 0:
        return np.zeros((0, model.encoder.norm.num_features), np.float32)
    model.eval()
    z = model.encoder(window, graphs)
    return z[: window.target.n_hosts].cpu().numpy().astype(np.float32)


def _trainable(window: Window) -> bool:
    """A day can be trained on when it has at least one edge."""
    return len(window.target.edge_host) > 0


class GNNRegime:
    """Runs one GNN method over the session's days: training, embedding, checkpoints."""

    def __init__(self, session, method: str, features: bool, settings: EmbedSettings, device: torch.device):
        self.s, self.method, self.features, self.settings, self.device = session, method, features, settings, device
        self.cache = GraphCache(session, features, settings.weighted, device)
        self.epochs = settings.epochs_per_day(features)

    # --- model creation and checkpoints ---------------------------------------------------------
    def _fresh(self, *parts: int) -> tuple[LinkModel, torch.optim.Adam]:
        st = self.settings
        torch.manual_seed(derive_seed(self.s.seed, *parts))
        model = build_model(self.method, self.features, st.hidden_dim, st.gcn_dim, st.embedding_dim, st.head_dim)
        model.encoder.batch_stats_at_inference = st.reference_compat
        model.encoder.stack.compute_dtype = torch.bfloat16 if st.precision == "bf16" else torch.float32
        model.to(self.device)
        return model, new_optimizer(model, st)

    def _save(self, index: int, model: LinkModel, optimizer, **state) -> None:
        day = self.s.days[index]
        folder = self.s.ws.model_dir(self.s.sensor, self.s.variant, day)
        checkpoint.save_torch(folder, model, optimizer, {"day": str(day), "seed": self.s.seed, **state})

    def _load(self, index: int) -> tuple[LinkModel, torch.optim.Adam] | None:
        folder = self.s.ws.model_dir(self.s.sensor, self.s.variant, self.s.days[index])
        if not (folder / checkpoint.STATE).exists():
            return None
        model, _ = self._fresh(0)
        optimizer, _ = checkpoint.load_torch(folder, model, lambda m: new_optimizer(m, self.settings))
        return model, optimizer

    def _rng(self, index: int, *parts: int) -> np.random.Generator:
        return np.random.default_rng(derive_seed(self.s.seed, self.s.days[index].toordinal(), *parts))

    # --- one epoch, one embedding: full batch or mini-batches by the day's size ---------------------
    def _epoch(self, model: LinkModel, optimizer, window: Window, graphs: dict, rng: np.random.Generator):
        """One training epoch on ``window``: one full-batch step, or a pass of mini-batches above the threshold."""
        st = self.settings
        if not st.minibatch(window.target.n_nodes):
            return link_step(model, optimizer, window, graphs, rng, st.negatives, st.link_chunk)
        sampler = self.cache.sampler(window, st)
        batches = host_batches(window.target, st.batch_size, rng)
        return link_epoch(model, optimizer, sampler, graphs, rng, st.negatives, batches, st.link_chunk)

    def _embed(self, model: LinkModel, window: Window, graphs: dict) -> np.ndarray:
        st = self.settings
        if not st.minibatch(window.target.n_nodes):
            return embed_hosts(model, window, graphs)
        return embed_hosts_batched(model, self.cache.sampler(window, st), graphs, st.batch_size)

    # --- regimes ----------------------------------------------------------------------------------
    def run(self, start: int) -> None:
        """Process days[start:] (earlier days are finished)."""
        getattr(self, f"_run_{self.method}")(start)

    def _run_gcn(self, start: int) -> None:
        for i in range(start, len(self.s.days)):
            if self.s.skip(i):
                continue
            t0 = time.perf_counter()
            model, optimizer = self._fresh(self.s.days[i].toordinal())
            window, graphs = self.cache.window([i], i)
            grow_table(model, optimizer, window, self.s.seed, self.s.days[i].toordinal())
            stats = self._early_stopping(model, optimizer, window, graphs, self._rng(i))
            self._finish(i, model, window, graphs, optimizer, t0, stats)

    def _run_igcn(self, start: int) -> None:
        self._incremental(start, history=0)

    def _run_igcngru(self, start: int) -> None:
        self._incremental(start, history=self.settings.history)

    def _incremental(self, start: int, history: int) -> None:
        restored = self._load(start - 1) if start > 0 else None
        if restored is None:
            start = 0
            restored = self._fresh(0)
        self.s.restart(start)
        model, optimizer = restored
        for i in range(start, len(self.s.days)):
            t0 = time.perf_counter()
            window, graphs = self.cache.window(window_positions(len(self.s.days), i, history), i)
            grow_table(model, optimizer, window, self.s.seed, self.s.days[i].toordinal())
            rng, results = self._rng(i), []
            for _ in range(self.epochs if _trainable(window) else 0):
                results.append(self._epoch(model, optimizer, window, graphs, rng))
            loss, acc = results[-1] if results else (None, None)
            self._finish(
                i, model, window, graphs, optimizer, t0, {"epochs": len(results), "loss": loss, "accuracy": acc}
            )

    def _run_gcngru(self, start: int) -> None:
        st, days = self.settings, self.s.days
        m = st.train_days
        if st.reference_compat and st.history == 0:
            raise ConfigError("gcngru with reference_compat needs history >= 1 (its window leaves day t out)")
        restored = self._load(m - 1) if start >= m else None
        if restored is None:
            self.s.restart(0)
            t0 = time.perf_counter()
            model, optimizer = self._fresh(0)
            windows = []
            for i in range(st.history, m):  # m > history: checked by runner.gcngru_limit
                positions = window_positions(len(days), i, st.history)
                windows.append((positions, i))
            stats = self._train_windows(model, optimizer, windows)
            self._save(m - 1, model, optimizer, frozen=True, **stats)
            seconds = time.perf_counter() - t0
            for i in range(m):
                self.s.record(i, embedded=False, seconds=seconds if i == m - 1 else 0.0, **stats)
            start = m
        else:
            model, optimizer = restored
        for i in range(start, len(days)):
            if self.s.skip(i):
                continue
            t0 = time.perf_counter()
            positions = window_positions(len(days), i, st.history, include_target=not st.reference_compat)
            window, graphs = self.cache.window(positions, i)
            grow_table(model, None, window, self.s.seed, days[i].toordinal())
            self.s.write(i, window.target.hosts, self._embed(model, window, graphs))
            self.s.record(i, seconds=time.perf_counter() - t0, hosts=window.target.n_hosts)

    def _train_windows(self, model: LinkModel, optimizer, windows: list[tuple[list[int], int]]) -> dict:
        """GCN-GRU training: epochs over the windows in chronological order, early stopping on the
        epoch's mean training link accuracy; the weights at the end of the best epoch are kept."""
        rng = np.random.default_rng(derive_seed(self.s.seed, 2))
        best_acc, best_state, waited, history = -1.0, None, 0, []
        for epoch in range(self.settings.max_epochs):
            results = []
            for positions, target in windows:
                window, graphs = self.cache.window(positions, target, retain=True)
                grow_table(model, optimizer, window, self.s.seed, self.s.days[target].toordinal())
                if _trainable(window):
                    results.append(self._epoch(model, optimizer, window, graphs, rng))
            loss = float(np.mean([r[0] for r in results])) if results else 0.0
            acc = float(np.mean([r[1] for r in results])) if results else 0.0
            history.append(acc)
            self.s.progress_status(
                f"training on the first {self.settings.train_days} days, epoch {epoch + 1} "
                f"loss {loss:.4f} acc {acc:.3f}"
            )
            if acc > best_acc:
                best_acc, best_state, waited = acc, copy.deepcopy(model.state_dict()), 0
            else:
                waited += 1
                if waited >= self.settings.patience:
                    break
        if best_state is not None:
            self._restore_state(model, best_state)
        return {"epochs": len(history), "accuracy": best_acc, "accuracy_per_epoch": history}

    def _early_stopping(
        self, model: LinkModel, optimizer, window: Window, graphs: dict, rng: np.random.Generator
    ) -> dict:
        """Static GCN: up to max_epochs steps on the day, stop after ``patience`` steps without a strictly
        better training accuracy; keep the weights that achieved the best accuracy (before their step)."""
        if not _trainable(window):
            return {"epochs": 0, "loss": None, "accuracy": None}
        best_acc, best_state, best_loss, waited, epochs = -1.0, None, None, 0, 0
        for _ in range(self.settings.max_epochs):
            before = copy.deepcopy(model.state_dict())
            loss, acc = self._epoch(model, optimizer, window, graphs, rng)
            epochs += 1
            if acc > best_acc:
                best_acc, best_state, best_loss, waited = acc, before, loss, 0
            else:
                waited += 1
                if waited >= self.settings.patience:
                    break
        self._restore_state(model, best_state)
        return {"epochs": epochs, "loss": best_loss, "accuracy": best_acc}

    @staticmethod
    def _restore_state(model: LinkModel, state: dict) -> None:
        table = model.encoder.stack.table
        if table is not None and table.weight.shape != state["encoder.stack.table.weight"].shape:
            table.resize(state["encoder.stack.table.weight"].shape[0])
        model.load_state_dict(state)

    def _finish(
        self, i: int, model: LinkModel, window: Window, graphs: dict, optimizer, t0: float, stats: dict
    ) -> None:
        if self.settings.minibatch(window.target.n_nodes):
            stats = {**stats, "batching": "minibatch"}  # run.json says which days ran in mini-batches
        self.s.write(i, window.target.hosts, self._embed(model, window, graphs))
        self._save(i, model, optimizer, **stats)
        checkpoint.prune(self.s.ws, self.s.sensor, self.s.variant, self.settings.keep_checkpoints)
        self.s.record(i, seconds=time.perf_counter() - t0, hosts=window.target.n_hosts, **stats)
