"""Pre-processing: face crop, EVM, TIM, TV-L1 flow and optical strain, augmentation.

NumPy and OpenCV only; nothing here imports TensorFlow.
"""

from .flow import TVL1Params, optical_strain, rotate_flow, tvl1_flow

__all__ = ["TVL1Params", "optical_strain", "rotate_flow", "tvl1_flow"]
