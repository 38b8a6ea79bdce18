"""Perceptual and fidelity metrics shared by the monitor, ``vsr eval`` and training losses."""

from vsr.metrics.fidelity import psnr_y, quantize, rgb_to_y, ssim_y
from vsr.metrics.stlpips import STLPIPS

__all__ = ["STLPIPS", "psnr_y", "quantize", "rgb_to_y", "ssim_y"]
