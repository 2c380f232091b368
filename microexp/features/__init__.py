"""Features: the on-disk cache of pre-processed tensors and its parallel builder."""

from .cache import BuildSummary, FlowCache, build_cache, source_key

__all__ = ["BuildSummary", "FlowCache", "build_cache", "source_key"]
