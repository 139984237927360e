"""Who counts as an admin on Discord, and the permissions the bot itself needs (for the invite URL).

Members with Manage Channels or Manage Server in the channel (Administrator implies both)
count as admins; the engine also lets a round's asker reveal, skip or cancel it.
"""

from __future__ import annotations

import discord

# What the bot needs in a channel: read it, post embeds, open a thread on a question and post in it.
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    embed_links=True,
    read_message_history=True,
)
INVITE_SCOPES = ("bot", "applications.commands")


def is_admin(permissions: discord.Permissions | None) -> bool:
    """Manage Channels, Manage Server or Administrator."""
    if permissions is None:
        return False
    return bool(permissions.administrator or permissions.manage_channels or permissions.manage_guild)


def interaction_is_admin(interaction: discord.Interaction) -> bool:
    """The invoking member's resolved permissions in the interaction's channel (never in DMs)."""
    if interaction.guild_id is None:
        return False
    return is_admin(interaction.permissions)


def message_is_admin(message: discord.Message) -> bool:
    """The author's permissions in the message's channel, as far as the cache knows them."""
    author, channel = message.author, message.channel
    if message.guild is None or not isinstance(author, discord.Member):
        return False
    if isinstance(channel, discord.TextChannel | discord.Thread):
        return is_admin(channel.permissions_for(author))
    return False


def invite_url(application_id: int) -> str:
    """The OAuth2 URL that adds the bot to a server with the permissions it needs."""
    return discord.utils.oauth_url(application_id, permissions=INVITE_PERMISSIONS, scopes=INVITE_SCOPES)
