"""Parameter studies of i-GCN-GRU (temporal-GNN paper §5.1, Fig. 4): macro-F1 versus history H and epochs."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from darkstack import atomic, skips
from darkstack.errors import ConfigError
from darkstack.evaluate.classify import class_vocabulary
from darkstack.evaluate.figures import study_figure
from darkstack.evaluate.inputs import label_names
from darkstack.evaluate.metrics import MACRO
from darkstack.evaluate.run import days_present, score_variant
from darkstack.evaluate.settings import EvalSettings
from darkstack.evaluate.split import days_phrase, pick_test_days, std_text
from darkstack.log import get_logger
from darkstack.workspace import Workspace, day_str

log = get_logger(__name__)

STUDIES = {
    # kind: (EmbedSettings field, variant suffix, paper's values, axis label)
    "history": ("history", "H", tuple(range(9)), "history H (snapshots)"),
    "epochs": ("incremental_epochs", "e", (1, 5, 10, 15, 20, 25, 30), "training epochs per day"),
}


def study_dir(ws: Workspace, sensor: str) -> Path:
    return ws.results_dir / "study" / sensor


def study(
    ws: Workspace,
    sensor: str,
    kind: str,
    values: list[int] | None = None,
    settings: EvalSettings | None = None,
    *,
    embed_settings=None,
    device: str = "auto",
    seed: int = 0,
) -> pd.DataFrame:
    """Embed i-GCN-GRU (with node features) once per value, evaluate it, and tabulate the daily macro-F1.

    ``kind`` is ``history`` (H ∈ 0…8) or ``epochs`` (epochs per day ∈ 1, 5, 10, …, 30); each value is the
    variant ``igcngru-H<H>`` / ``igcngru-e<e>``. Returns one row per value: the value, ``f1`` (mean of
    the daily macro-F1 over the test days), ``std``, ``f1min``/``f1max`` (mean ∓ std, the reference's
    columns) and ``days``; written to ``results/study/<sensor>/<kind>.{csv,json,png}``.
    """
    from darkstack.embed import EmbedSettings, embed

    if kind not in STUDIES:
        raise ConfigError(f"study kind must be one of {sorted(STUDIES)}, not {kind!r}")
    field, suffix, defaults, xlabel = STUDIES[kind]
    values = list(defaults if values is None else values)
    if not values:
        raise ConfigError("no value to study")
    settings = settings or EvalSettings()
    base = (embed_settings or EmbedSettings()).model_dump()
    rows, per_day = [], []
    for value in values:
        variant = f"igcngru-{suffix}{value}"
        try:
            embed_with = EmbedSettings(**{**base, field: value})
        except ValueError as exc:
            raise ConfigError(f"bad {kind} value {value!r}: {exc}") from exc
        embed(ws, sensor, "igcngru", features=True, settings=embed_with, variant=variant, device=device, seed=seed)
        days = pick_test_days(days_present(ws, sensor, [variant]), settings.test_days, settings.train_days)
        scores = score_variant(ws, sensor, variant, days, settings, class_vocabulary(label_names(ws, days)))
        macro = scores.loc[scores["label"] == MACRO, "f1"]
        if macro.empty:
            skips.note(f"study {kind}", f"no labelled class reaches {settings.min_class_hosts} hosts", sensor=sensor,
                       variant=variant, days=days, option="--min-class-hosts / evaluate.min_class_hosts")
            continue
        mean, std = float(macro.mean()), float(macro.std()) if len(macro) > 1 else math.nan
        rows.append({kind: value, "variant": variant, "f1": mean, "std": std, "f1min": mean - std,
                     "f1max": mean + std, "days": len(macro), "first_day": day_str(days[0]), "last_day": day_str(days[-1])})
        per_day.append(scores[scores["label"] == MACRO].assign(**{kind: value}))
        log.info(f"study {kind}, sensor {sensor}, variant {variant}: macro F1 {mean:.3f} ± {std_text(std)} over "
                 f"{days_phrase(len(macro))}", extra={"sensor": sensor, "variant": variant, kind: value})
    if not rows:
        raise skips.skip_stage(f"study {kind}", "no value could be scored", sensor=sensor)
    frame = pd.DataFrame(rows)
    out = study_dir(ws, sensor)
    atomic.write_text(out / f"{kind}.csv", frame.to_csv(index=False))
    atomic.write_json(out / f"{kind}.json", {
        "sensor": sensor, "kind": kind, "method": "igcngru", "settings": settings.model_dump(),
        "rows": [{k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()} for r in rows],
        "per_day": pd.concat(per_day, ignore_index=True).astype(object).to_dict(orient="records"),
    })
    study_figure(frame, kind, xlabel, out / f"{kind}.png", title=f"i-GCN-GRU, sensor {sensor}")
    return frame

