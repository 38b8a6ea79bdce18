"""Command-line interface: one module per click command."""
