"""Host embeddings (stage ``embed``): DS features, i-DarkVec and the GNN family (GCN, i-GCN, GCN-GRU,
i-GCN-GRU), one Parquet per day with the active hosts only. See docs/embeddings.md."""

from darkstack.embed.output import load_embeddings
from darkstack.embed.runner import embed
from darkstack.embed.settings import METHODS, EmbedSettings

__all__ = ["METHODS", "EmbedSettings", "embed", "load_embeddings"]
