"""Image operators: a differentiable torch reference for each (CuPy kernels come later)."""
