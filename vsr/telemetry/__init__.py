"""Telemetry: background sampling of the GPU while something runs (``nvml``)."""
