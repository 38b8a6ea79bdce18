"""Tensor ops: a differentiable torch reference for each, CUDA kernels where they exist."""
