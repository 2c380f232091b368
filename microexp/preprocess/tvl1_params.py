"""TV-L1's parameters, shared by OpenCV's engine (:mod:`.flow`) and microexp's own
(:mod:`.tvl1_keras`) without either importing the other."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class TVL1Params:
    """``cv2.optflow.DualTVL1OpticalFlow`` parameters; defaults are OpenCV's, which neither paper
    overrides (both are silent on them)."""

    tau: float = 0.25
    lambda_: float = 0.15
    theta: float = 0.3
    nscales: int = 5
    warps: int = 5
    epsilon: float = 0.01
    inner_iterations: int = 30
    outer_iterations: int = 10
    scale_step: float = 0.8
    gamma: float = 0.0
    median_filtering: int = 5

    def as_dict(self) -> dict:
        return asdict(self)
