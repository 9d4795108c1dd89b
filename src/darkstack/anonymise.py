"""Prefix-preserving IPv4 anonymisation (Crypto-PAn, Xu et al. 2002) with a 32-byte user key.

Two addresses sharing a k-bit prefix map to two addresses sharing a k-bit prefix, so networks
(CIDR labels) map onto anonymised networks and traffic and labels stay consistent. Bit i of the
output is bit i of the input XOR the top bit of AES(key[:16], first i input bits ‖ pad bits), with
pad = AES(key[:16], key[16:]) — the reference construction, so results match other Crypto-PAn tools.

Vectorised: each of the 32 rounds encrypts the distinct i-bit prefixes of all addresses at once
(AES-ECB over many blocks); results are cached across calls.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from darkstack.errors import DarkstackError

KEY_BYTES = 32


def load_key(path: str | Path) -> bytes:
    """Read a key file: 32 raw bytes, or 64 hexadecimal characters (whitespace ignored)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DarkstackError(f"cannot read the anonymisation key ({exc.strerror or exc})", path) from exc
    if len(raw) == KEY_BYTES:
        return raw
    text = raw.decode("ascii", errors="replace").strip()
    if len(text) == 2 * KEY_BYTES:
        try:
            return bytes.fromhex(text)
        except ValueError:
            pass
    raise DarkstackError(f"an anonymisation key must be {KEY_BYTES} bytes or {2 * KEY_BYTES} hex characters "
                         f"(this file has {len(raw)} bytes)", path)


class CryptoPAn:
    """Crypto-PAn for IPv4 over uint32 arrays, with a cache of addresses already mapped."""

    def __init__(self, key: bytes):
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        if len(key) != KEY_BYTES:
            raise DarkstackError(f"an anonymisation key must be {KEY_BYTES} bytes, not {len(key)}")
        self._cipher = Cipher(algorithms.AES(key[:16]), modes.ECB())
        pad = self._encrypt(np.frombuffer(key[16:], np.uint8).reshape(1, 16))[0]
        self._pad_head = int.from_bytes(pad[:4].tobytes(), "big")
        self._pad_tail = pad[4:].copy()
        self.fingerprint = hashlib.sha256(key).hexdigest()[:16]
        """Identifies the key (in manifests) without revealing it."""
        self._known = np.zeros(0, np.uint32)
        self._mapped = np.zeros(0, np.uint32)

    @classmethod
    def from_file(cls, path: str | Path) -> CryptoPAn:
        return cls(load_key(path))

    def _encrypt(self, blocks: np.ndarray) -> np.ndarray:
        enc = self._cipher.encryptor()
        out = enc.update(np.ascontiguousarray(blocks, np.uint8).tobytes()) + enc.finalize()
        return np.frombuffer(out, np.uint8).reshape(-1, 16)

    def _compute(self, addrs: np.ndarray) -> np.ndarray:
        a = addrs.astype(np.uint64)
        otp = np.zeros(a.size, np.uint64)
        pad = np.uint64(self._pad_head)
        full = np.uint64(0xFFFFFFFF)
        for pos in range(32):
            keep = (full << np.uint64(32 - pos)) & full if pos else np.uint64(0)
            heads = (a & keep) | (pad & ~keep & full)
            uniq, inverse = np.unique(heads, return_inverse=True)
            blocks = np.empty((uniq.size, 16), np.uint8)
            blocks[:, :4] = uniq.astype(">u4").view(np.uint8).reshape(-1, 4)
            blocks[:, 4:] = self._pad_tail
            top = (self._encrypt(blocks)[:, 0] >> 7).astype(np.uint64)
            otp |= top[inverse.ravel()] << np.uint64(31 - pos)
        return (a ^ otp).astype(np.uint32)

    def anonymise(self, addrs) -> np.ndarray:
        """Anonymised copy of a uint32 address array (any shape)."""
        arr = np.asarray(addrs, dtype=np.uint32)
        uniq, inverse = np.unique(arr.ravel(), return_inverse=True)
        pos = np.searchsorted(self._known, uniq)
        hit = pos < self._known.size
        hit[hit] = self._known[pos[hit]] == uniq[hit]
        out = np.empty(uniq.size, np.uint32)
        out[hit] = self._mapped[pos[hit]]
        if (~hit).any():
            new = uniq[~hit]
            out[~hit] = self._compute(new)
            known = np.concatenate([self._known, new])
            order = np.argsort(known, kind="stable")
            self._known, self._mapped = known[order], np.concatenate([self._mapped, out[~hit]])[order]
        return out[inverse.ravel()].reshape(arr.shape)

    def anonymise_network(self, network: np.ndarray, prefix_len: np.ndarray) -> np.ndarray:
        """Anonymised network addresses: the anonymised prefix of each (network, prefix length)."""
        plen = np.asarray(prefix_len, np.int64)
        mask = np.where(plen > 0, (np.uint64(0xFFFFFFFF) << (32 - plen).astype(np.uint64)) & np.uint64(0xFFFFFFFF), 0)
        return (self.anonymise(network).astype(np.uint64) & mask.astype(np.uint64)).astype(np.uint32)
