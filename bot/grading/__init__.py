"""Automatic grading of free-text interview replies against the question bank's key points."""

from bot.grading.feedback import Feedback, feedback
from bot.grading.grader import Grade, Grader, KeyPointResult, Status

__all__ = ["Feedback", "Grade", "Grader", "KeyPointResult", "Status", "feedback"]
