"""Shared by the readers of records that stand for several packets (flow tuples, Zeek connections, Suricata
flows, Merit events): the per-packet IP length and the sensor's own link-local traffic.

A flow record keeps a packet count (``packets``) and a byte total; the canonical ``ip_len`` is the mean per
packet (rounded), so ``ip_len × packets`` gives back the byte total within rounding and a weighted mean of
``ip_len`` equals the per-packet mean. A flow's minimum/maximum packet size is not in any of these formats.
"""

from __future__ import annotations

import numpy as np

LINK_LOCAL = (0xA9FE0000, 0xFFFF0000)
"""169.254.0.0/16: link-local, the cloud metadata service (169.254.169.254) among it."""
SKIP_OWN = "sensor's own traffic (link-local, cloud metadata, multicast or broadcast)"


def per_packet_len(total_bytes: np.ndarray, packets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rounded bytes per packet capped at 65535, present mask): absent when there are no packets."""
    total = np.asarray(total_bytes, np.float64)
    count = np.asarray(packets, np.float64)
    present = count > 0
    mean = np.divide(total, count, out=np.zeros_like(total), where=present)
    return np.minimum(np.rint(mean), 0xFFFF).astype(np.int64), present


def own_traffic(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Rows that are the sensor host's own traffic, not an outside host's: link-local at either end, or a
    multicast (224.0.0.0/4) or limited-broadcast destination."""
    src, dst = np.asarray(src, np.uint32), np.asarray(dst, np.uint32)
    base, mask = LINK_LOCAL
    link_local = ((src & mask) == base) | ((dst & mask) == base)
    return link_local | ((dst >> 28) == 0xE) | (dst == 0xFFFFFFFF)
