"""Slipway example service packaged with pyproject.toml."""
