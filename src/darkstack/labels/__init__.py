"""Ground truth: label sources, the Mirai rule, longest-prefix merge and per-day views."""

from darkstack.labels.build import build_labels, labels_for_day

__all__ = ["build_labels", "labels_for_day"]
