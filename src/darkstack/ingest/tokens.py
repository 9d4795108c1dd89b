"""Address tokens (traces published with names such as ``src_ipaddr0`` instead of addresses) → reserved IPv4.

Every stage keys hosts by a uint32 IPv4 address, so a token is given one: source tokens take the next
free address of 240.0.0.0/5 and destination tokens of 248.0.0.0/6, in the order they first appear.
240.0.0.0/4 is "reserved for future use" (RFC 1112 §4, RFC 6890): no packet from the Internet carries
such a source, so a mapped address never collides with a real one in the same store, and the two
spaces keep a source token and a destination token of the same name apart.

The table is kept in the workspace (:func:`token_file`), extended append-only and written atomically,
so re-ingesting a file or ingesting a new day maps a token to the address it already has, and a label
file keyed by the same tokens maps through it (``darkstack labels``). Within a workspace a token's
address never changes; two workspaces agree when they ingest the same files in the same order.

A publisher may number tokens per file (the DarkVec public trace does: ``src_ipaddr0`` is each file's
first sender, not one host); ``IngestSettings.token_scope = "file"`` then keys tokens by file name too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from darkstack import atomic
from darkstack.errors import DarkstackError
from darkstack.ingest import fields
from darkstack.workspace import Workspace

SPACES = {"src": (0xF0000000, 1 << 27), "dst": (0xF8000000, 1 << 26)}
"""Token space → (first address, capacity): 240.0.0.0/5 for sources, 248.0.0.0/6 for destinations."""
TOKEN_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
"""What a token looks like: a name of up to 64 letters, digits, '_' or '-' (no dots or colons, so no address)."""
SCHEMA = pa.schema([pa.field("space", pa.string(), nullable=False), pa.field("token", pa.string(), nullable=False),
                    pa.field("ip", pa.uint32(), nullable=False)])


def token_file(ws: Workspace) -> Path:
    """``store/tokens.parquet``: space, token, ip of every token mapped in this workspace, in assignment order."""
    return ws.store_dir / "tokens.parquet"


def token_columns(ws: Workspace, ips) -> dict[str, pa.Array]:
    """``{"token": …}``, each host's token (null for real addresses), when the workspace maps tokens; else ``{}``.

    For tables of hosts that show addresses (the predictions): the reader can find the trace's own name.
    """
    if not token_file(ws).exists():
        return {}
    return {"token": pa.array(TokenMap.load(ws).tokens_of(ips).tolist(), pa.string())}


def is_token(arr) -> np.ndarray:
    """Rows of a string array that look like a token (see :data:`TOKEN_PATTERN`)."""
    s = pc.fill_null(pc.utf8_trim_whitespace(arr), "")
    return pc.match_substring_regex(s, TOKEN_PATTERN).to_numpy(zero_copy_only=False)


class TokenMap:
    """The tokens of each space in assignment order: a token's address is its space's base plus its position."""

    def __init__(self, known: dict[str, pa.Array] | None = None, path: Path | None = None):
        self.known = {space: pa.array([], pa.string()) for space in SPACES} | (known or {})
        self.path = path
        self.added = 0

    @classmethod
    def load(cls, ws: Workspace) -> TokenMap:
        """The workspace's table (empty when no token was mapped yet)."""
        path = token_file(ws)
        if not path.exists():
            return cls(path=path)
        try:
            table = pq.read_table(path)
        except (OSError, pa.ArrowException) as exc:
            raise DarkstackError(f"cannot read the token table ({exc})", path) from exc
        if not set(SCHEMA.names) <= set(table.column_names):
            raise DarkstackError(f"token table lacks columns {', '.join(SCHEMA.names)}", path)
        known = {}
        for space, (base, _) in SPACES.items():
            rows = table.filter(pc.equal(table.column("space"), space))
            ips = rows.column("ip").to_numpy().astype(np.int64)
            if not np.array_equal(ips, base + np.arange(len(ips))):
                raise DarkstackError(f"token table is damaged: {space} addresses are not consecutive from the space's "
                                     "first address; it cannot be repaired (the addresses in the store depend on it)", path)
            known[space] = rows.column("token").combine_chunks()
        return cls(known, path)

    def addresses(self, column, space: str, scope: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Address column (dotted quads and tokens) → (uint32 values, bad mask); new tokens are appended.

        A dotted quad stays the address it is; absent values and text that is neither are bad. With
        ``scope`` (a file name) the tokens are kept as ``<scope>:<token>``, apart from other files' tokens.
        """
        s = pc.fill_null(pc.utf8_trim_whitespace(column.combine_chunks() if isinstance(column, pa.ChunkedArray)
                                                 else column), "")
        values, not_dotted = fields.ipv4(s)
        token = not_dotted & is_token(s)
        if token.any():
            names = s.filter(pa.array(token))
            if scope is not None:
                names = pc.binary_join_element_wise(pa.scalar(scope), names, ":")
            index = self._index(names, space)
            missing = index < 0
            if missing.any():
                self._append(pc.unique(names.filter(pa.array(missing))), space)
                index = self._index(names, space)
            values[token] = (SPACES[space][0] + index).astype(np.uint32)
        return values, not_dotted & ~token

    def lookup(self, names, space: str = "src") -> tuple[np.ndarray, np.ndarray]:
        """Tokens → (uint32 addresses, found mask), without adding any (labels map only tokens already seen)."""
        index = self._index(pa.array(names, pa.string()), space)
        found = index >= 0
        return np.where(found, SPACES[space][0] + index, 0).astype(np.uint32), found

    def tokens_of(self, ips) -> np.ndarray:
        """The token each address stands for (None where it is not a mapped address)."""
        ips = np.asarray(ips, np.uint32).astype(np.int64)
        out = np.full(ips.size, None, dtype=object)
        for space, (base, _) in SPACES.items():
            at = ips - base
            hit = (at >= 0) & (at < len(self.known[space]))
            if hit.any():
                out[hit] = self.known[space].take(pa.array(at[hit])).to_numpy(zero_copy_only=False)
        return out

    def save(self) -> None:
        """Write the table atomically when tokens were added (append-only: earlier rows never change)."""
        if not self.added or self.path is None:
            return
        parts = [pa.table({"space": pa.array([space] * len(tokens), pa.string()), "token": tokens,
                           "ip": pa.array(SPACES[space][0] + np.arange(len(tokens)), pa.uint32())}, schema=SCHEMA)
                 for space, tokens in self.known.items()]
        atomic.write_parquet(self.path, pa.concat_tables(parts))
        self.added = 0

    def _index(self, names: pa.Array, space: str) -> np.ndarray:
        found = pc.index_in(names, value_set=self.known[space])
        return pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)

    def _append(self, new: pa.Array, space: str) -> None:
        base, capacity = SPACES[space]
        if len(self.known[space]) + len(new) > capacity:
            raise DarkstackError(f"more than {capacity:,} {space} tokens: the reserved range for them is full", self.path)
        self.known[space] = pa.concat_arrays([self.known[space], new.cast(pa.string())])
        self.added += len(new)
