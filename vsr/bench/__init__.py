"""Throughput measurement behind ``vsr bench`` and ``benchmarks/``.

``clips`` makes the built-in benchmark clips, ``measure`` times one thing at a time (decode, engine
alone, the staged pipeline with and without encode, the naive loop, FFmpeg's scaler), ``suite``
runs them all on a list of clips plus the resolution/batch sweep and builds the JSON report, and
``report`` prints, checks and plots that report.
"""
