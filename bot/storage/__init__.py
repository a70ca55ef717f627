"""Persistence behind one layer: nothing outside this package speaks SQL."""

from bot.storage.sqlite import MIGRATIONS, ConflictError, Decision, DecisionChoice, Storage, iso

__all__ = ["MIGRATIONS", "ConflictError", "Decision", "DecisionChoice", "Storage", "iso"]
