"""The Discord adapter: slash commands, embeds, buttons and modals on discord.py, around the neutral engine."""

PLATFORM = "discord"
