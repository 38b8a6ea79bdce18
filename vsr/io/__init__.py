"""Media input/output with PyAV and numpy (no torch here)."""
