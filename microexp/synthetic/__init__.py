"""The embedded default: synthetic datasets written in the real datasets' on-disk layouts."""

from .generator import (
    DIFFICULTY,
    PRESETS,
    SPECS,
    MotionParams,
    RenderedClip,
    draws_digest,
    generate,
    generate_all,
    render_clip,
)
from .longvideo import LONG_PRESETS, LONG_SPECS, generate_long, render_video

__all__ = [
    "DIFFICULTY",
    "PRESETS",
    "SPECS",
    "MotionParams",
    "draws_digest",
    "RenderedClip",
    "generate",
    "generate_all",
    "render_clip",
    "LONG_PRESETS",
    "LONG_SPECS",
    "generate_long",
    "render_video",
]
