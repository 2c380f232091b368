"""The embedded default: synthetic datasets written in the real datasets' on-disk layouts."""

from .generator import (
    PRESETS,
    SPECS,
    MotionParams,
    RenderedClip,
    generate,
    generate_all,
    render_clip,
)

__all__ = [
    "PRESETS",
    "SPECS",
    "MotionParams",
    "RenderedClip",
    "generate",
    "generate_all",
    "render_clip",
]
