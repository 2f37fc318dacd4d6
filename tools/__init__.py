"""Developer tools: ``python -m tools.flake`` (check-suite flakiness)."""
