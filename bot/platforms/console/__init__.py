"""The terminal: a Messenger that prints, and the interactive drill."""
