"""Stages, the runner that threads them, and the jobs built from them."""
