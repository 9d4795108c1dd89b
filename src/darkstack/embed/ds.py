"""DS (domain-specific) embedding: a host's 37 features scaled by the day's per-column maximum."""

from __future__ import annotations

import numpy as np

from darkstack.snapshot import Snapshot
from darkstack.snapshot.features import FEATURE_COLUMNS, scale_by_day_max


def ds_embeddings(snapshot: Snapshot) -> tuple[np.ndarray, np.ndarray]:
    """(ips, X): every host of the day's host_features, X = scale_by_day_max(raw features) as float32."""
    table = snapshot.host_features
    ips = table.column("ip").to_numpy(zero_copy_only=False).astype(np.uint32)
    raw = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in FEATURE_COLUMNS])
    return ips, scale_by_day_max(raw.reshape(len(ips), len(FEATURE_COLUMNS))).astype(np.float32)
