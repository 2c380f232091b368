"""The embedded default: synthetic datasets written in the real datasets' on-disk layouts."""

from .generator import (
    DIFFICULTY,
    PRESETS,
    SPECS,
    MotionParams,
    RenderedClip,
    generate,
    generate_all,
    render_clip,
)

__all__ = [
    "DIFFICULTY",
    "PRESETS",
    "SPECS",
    "MotionParams",
    "RenderedClip",
    "generate",
    "generate_all",
    "render_clip",
]
