"""The 37 node features of the papers' Table 1 (host and port nodes), their names and units, and the
default downstream scaling.

Column order follows the reference code exactly (reference-notes §2): the per-count statistics are
``min, max, sum, mean, std`` and the packet-field statistics ``sum, min, max, mean, std``. ``std`` is the
sample standard deviation (ddof = 1); a single-element group has std 0.
"""

from __future__ import annotations

import numpy as np

N_FEATURES = 37
FEATURE_COLUMNS = [f"f{i:02d}" for i in range(N_FEATURES)]
"""Feature column names ``f00`` … ``f36`` of host_features.parquet and port_features.parquet."""

COUNT_STATS = ("min", "max", "sum", "mean", "std")
FIELD_STATS = ("sum", "min", "max", "mean", "std")
PACKET_FIELDS = (
    ("size", "bytes", "IP total length"),
    ("ttl", "hops", "IP time to live"),
    ("mss", "bytes", "TCP MSS option (0 when absent)"),
    ("win", "bytes", "TCP window header value, unscaled (0 when absent)"),
    ("tsval", "ticks", "TCP timestamp option TSval (0 when absent)"),
)


def _field_block() -> list[tuple[str, str, str]]:
    return [
        (f"{name}_{stat}", unit, f"{stat} of {text} over the node's packets")
        for name, unit, text in PACKET_FIELDS
        for stat in FIELD_STATS
    ]


HOST_FEATURES: list[tuple[str, str, str]] = [
    ("n_ports", "ports", "distinct destination ports contacted (the folded `other` port counts as one)"),
    *[(f"port_packets_{s}", "packets", f"{s} of the host's packet counts per port") for s in COUNT_STATS],
    ("n_sensor_addresses", "addresses", "distinct sensor (destination) addresses contacted"),
    *[(f"address_packets_{s}", "packets", f"{s} of the host's packet counts per sensor address") for s in COUNT_STATS],
    *_field_block(),
]
"""(name, unit, meaning) of host features f00 … f36, in column order."""

PORT_FEATURES: list[tuple[str, str, str]] = [
    ("n_hosts", "hosts", "distinct source hosts contacting the port"),
    *[(f"host_packets_{s}", "packets", f"{s} of the per-host packet counts towards the port") for s in COUNT_STATS],
    ("dummy_0", "-", "constant 0 (dummy, as the papers and the reference)"),
    *[(f"dummy_{i}", "-", "constant 0 (dummy, as the papers and the reference)") for i in range(1, 6)],
    *_field_block(),
]
"""(name, unit, meaning) of port features f00 … f36, in column order."""

assert len(HOST_FEATURES) == len(PORT_FEATURES) == N_FEATURES


def scale_by_day_max(matrix: np.ndarray) -> np.ndarray:
    """Divide each column by its maximum over the rows (one day's nodes of one type); 0/0 → 0.

    This is the reference code's normalisation and the default scaling downstream of the raw features
    (all features are non-negative, so the result lies in [0, 1]).
    """
    x = np.asarray(matrix, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected a 2-D matrix, got shape {x.shape}")
    if x.shape[0] == 0:
        return x.copy()
    top = x.max(axis=0)
    out = np.zeros_like(x)
    np.divide(x, top, out=out, where=top != 0)
    return out
