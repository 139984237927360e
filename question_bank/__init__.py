"""The question bank: typed entries loaded and validated from YAML files."""

from question_bank.schema import Bank, KeyPoint, Localized, Question, Section

__all__ = ["Bank", "KeyPoint", "Localized", "Question", "Section"]
