"""Per-day checkpoints without pickle: tensors in ``weights.safetensors``, everything else in ``state.json``.

``state.json`` is written last, so a folder without it is an unfinished checkpoint and is ignored.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import numpy as np

from darkstack import atomic
from darkstack.damage import SUFFIX
from darkstack.errors import DamagedFileError
from darkstack.workspace import Workspace, parse_day

WEIGHTS = "weights.safetensors"
STATE = "state.json"


def save_arrays(folder: Path, arrays: dict[str, np.ndarray], state: dict) -> None:
    """Write numpy arrays and a JSON state atomically (state last)."""
    from safetensors.numpy import save_file

    (folder / STATE).unlink(missing_ok=True)
    with atomic.atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
    atomic.write_json(folder / STATE, state)


def load_arrays(folder: Path) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and state of a finished checkpoint."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    try:
        state = json.loads((folder / STATE).read_text())
    except (FileNotFoundError, ValueError) as exc:
        raise DamagedFileError(f"unreadable checkpoint state ({exc})", folder / STATE) from exc
    try:
        arrays = load_file(str(folder / WEIGHTS))
    except (FileNotFoundError, SafetensorError) as exc:
        raise DamagedFileError(f"unreadable checkpoint weights ({exc})", folder / WEIGHTS) from exc
    return arrays, state


def save_torch(folder: Path, model, optimizer, state: dict) -> None:
    """Model parameters and buffers, optimiser moments (tensors) and optimiser settings (JSON)."""
    arrays = {f"model.{k}": v.detach().cpu().numpy() for k, v in model.state_dict().items()}
    opt_state = {"param_groups": [], "scalars": {}}
    if optimizer is not None:
        full = optimizer.state_dict()
        opt_state["param_groups"] = full["param_groups"]
        for idx, entries in full["state"].items():
            for name, value in entries.items():
                if hasattr(value, "detach"):
                    arrays[f"optimizer.{idx}.{name}"] = value.detach().cpu().numpy()
                else:
                    opt_state["scalars"][f"{idx}.{name}"] = value
    save_arrays(folder, arrays, {**state, "optimizer": opt_state})


def load_torch(folder: Path, model, make_optimizer) -> tuple[object, dict]:
    """Restore ``model`` in place and return (optimizer from ``make_optimizer(model)`` with its state, state)."""
    import torch

    arrays, state = load_arrays(folder)
    params = {k.removeprefix("model."): torch.from_numpy(v) for k, v in arrays.items() if k.startswith("model.")}
    table = getattr(model.encoder.stack, "table", None)
    if table is not None:
        table.resize(params["encoder.stack.table.weight"].shape[0])
    device = next(model.parameters()).device
    model.load_state_dict({k: v.to(device) for k, v in params.items()})
    optimizer = make_optimizer(model)
    opt_state = state["optimizer"]
    entries: dict[int, dict] = {}
    for key, value in arrays.items():
        if key.startswith("optimizer."):
            _, idx, name = key.split(".", 2)
            entries.setdefault(int(idx), {})[name] = torch.from_numpy(value)
    for key, value in opt_state["scalars"].items():
        idx, name = key.split(".", 1)
        entries.setdefault(int(idx), {})[name] = value
    if opt_state["param_groups"]:
        optimizer.load_state_dict({"state": entries, "param_groups": opt_state["param_groups"]})
    return optimizer, state


def checkpoint_days(ws: Workspace, sensor: str, variant: str) -> list[dt.date]:
    """Days with a finished checkpoint, oldest first."""
    base = ws.model_dir(sensor, variant)
    if not base.is_dir():
        return []
    folders = [p for p in base.glob("day=*") if not p.name.endswith(SUFFIX) and (p / STATE).exists()]
    return sorted(parse_day(p.name.removeprefix("day=")) for p in folders)


def prune(ws: Workspace, sensor: str, variant: str, keep: int, protect: dt.date | None = None) -> None:
    """Delete all but the newest ``keep`` checkpoints (``keep`` = 0 keeps all; ``protect`` is never deleted)."""
    if keep <= 0:
        return
    for day in checkpoint_days(ws, sensor, variant)[:-keep]:
        if day != protect:
            shutil.rmtree(ws.model_dir(sensor, variant, day))
