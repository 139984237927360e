"""Transformer interview bot: engine, storage, platforms and CLI."""
