"""A fake Discord (REST under /api/v10 and a gateway websocket) on 127.0.0.1 for the real discord.py client.

Point discord.py at it with ``patched_discord_urls(fake)`` (``running_client`` does it for you). Besides speaking
the wire protocol, the fake keeps the rules bots usually trip over: interaction tokens with a 3 s acknowledgement
deadline, one callback per interaction, follow-ups only after an acknowledgement (the first follow-up after a
deferral resolves the "thinking" message and keeps its visibility), 2000-character content, intent filtering and
message-content stripping on the gateway, and MESSAGE_CREATE echoes of the bot's own messages.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import math
import re
import secrets
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeVar

import aiohttp
import discord
import discord.gateway
import discord.http
import yarl
from aiohttp import web

Json = dict[str, Any]
T = TypeVar("T")

API_PREFIX = "/api/v10"
GATEWAY_PATH = "/gateway"
FAKE_TOKEN = "fake-discord-bot-token"
DISCORD_EPOCH_MS = 1_420_070_400_000
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
USER_MENTION = re.compile(r"<@!?(\d+)>")
ROLE_MENTION = re.compile(r"<@&(\d+)>")
EPHEMERAL = 1 << 6
LOADING = 1 << 7
HAS_THREAD = 1 << 5
SUPPRESS_EMBEDS = 1 << 2
COMPONENTS_V2 = 1 << 15
BODY_KEY = web.RequestKey("fake_discord_body", object)
FILES_KEY = web.RequestKey("fake_discord_files", list)


class Intent:
    """Gateway intent bits the fake filters on."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MESSAGES = 1 << 9
    GUILD_MESSAGE_REACTIONS = 1 << 10
    GUILD_MESSAGE_TYPING = 1 << 11
    DIRECT_MESSAGES = 1 << 12
    DIRECT_MESSAGE_REACTIONS = 1 << 13
    DIRECT_MESSAGE_TYPING = 1 << 14
    MESSAGE_CONTENT = 1 << 15


class Perm:
    """Permission bits the fake computes with."""

    ADMINISTRATOR = 1 << 3
    ADD_REACTIONS = 1 << 6
    VIEW_CHANNEL = 1 << 10
    SEND_MESSAGES = 1 << 11
    MANAGE_MESSAGES = 1 << 13
    EMBED_LINKS = 1 << 14
    ATTACH_FILES = 1 << 15
    READ_MESSAGE_HISTORY = 1 << 16
    MENTION_EVERYONE = 1 << 17
    USE_EXTERNAL_EMOJIS = 1 << 18
    USE_APPLICATION_COMMANDS = 1 << 31
    CREATE_PUBLIC_THREADS = 1 << 35
    SEND_MESSAGES_IN_THREADS = 1 << 38
    ALL = 8866461766385663  # discord.Permissions.all().value in discord.py 2.7
    MEMBER_DEFAULT = (
        VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | ADD_REACTIONS
        | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS | CREATE_PUBLIC_THREADS | SEND_MESSAGES_IN_THREADS
    )
    DM_APP = (
        VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | ATTACH_FILES | READ_MESSAGE_HISTORY | ADD_REACTIONS
        | USE_EXTERNAL_EMOJIS | USE_APPLICATION_COMMANDS
    )


def now_iso() -> str:
    """The current UTC time as Discord formats it."""
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Strictly increasing snowflake ids carrying the current time."""

    def __init__(self) -> None:
        self._last = 0

    def next(self) -> int:
        """A new id."""
        stamp = (int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22
        self._last = max(self._last + 1, stamp)
        return self._last


# ---------------------------------------------------------------- configuration


@dataclass(frozen=True)
class FakeUser:
    """A Discord user (or bot) known to the fake."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    def payload(self) -> Json:
        """The user object."""
        data: Json = {
            "id": str(self.id), "username": self.username, "discriminator": "0", "global_name": self.global_name,
            "avatar": None, "public_flags": 0, "flags": 0, "banner": None, "accent_color": None,
            "avatar_decoration_data": None, "collectibles": None, "primary_guild": None,
        }
        if self.bot:
            data["bot"] = True
        return data


@dataclass(frozen=True)
class FakeRole:
    """A guild role."""

    id: int
    name: str
    permissions: int = 0
    position: int = 1
    managed: bool = False

    def payload(self) -> Json:
        """The role object."""
        return {
            "id": str(self.id), "name": self.name, "color": 0,
            "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
            "hoist": False, "icon": None, "unicode_emoji": None, "position": self.position,
            "permissions": str(self.permissions), "managed": self.managed, "mentionable": False, "flags": 0,
        }


@dataclass(frozen=True)
class FakeChannel:
    """A guild channel (text by default)."""

    id: int
    name: str
    type: int = 0
    position: int = 0
    parent_id: int | None = None
    topic: str | None = None

    def payload(self, guild_id: int | None = None) -> Json:
        """The channel object (GUILD_CREATE omits guild_id, REST includes it)."""
        data: Json = {
            "id": str(self.id), "type": self.type, "name": self.name, "position": self.position,
            "permission_overwrites": [], "parent_id": str(self.parent_id) if self.parent_id else None,
            "topic": self.topic, "nsfw": False, "last_message_id": None, "rate_limit_per_user": 0,
            "default_auto_archive_duration": 1440, "flags": 0,
        }
        if self.type in (2, 13):
            data.update(bitrate=64000, user_limit=0, rtc_region=None)
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data


BOT_USER = FakeUser(1200000000000000001, "interview-bot", "Interview Bot", bot=True)
OWNER = FakeUser(1200000000000000002, "guild-owner", "Guild Owner")
CANDIDATE = FakeUser(1400000000000000001, "candidate", "Candidate")
GUILD_ID = 1300000000000000001
CHANNEL_ID = 1300000000000000101
OTHER_CHANNEL_ID = 1300000000000000102


@dataclass(frozen=True)
class FakeGuild:
    """A guild with its channels and roles (@everyone is implied, with id == guild id)."""

    id: int
    name: str = "Interview Lab"
    channels: tuple[FakeChannel, ...] = ()
    roles: tuple[FakeRole, ...] = ()
    owner_id: int = OWNER.id
    everyone_permissions: int = Perm.MEMBER_DEFAULT
    bot_role_ids: tuple[int, ...] = ()
    locale: str = "en-US"

    def all_roles(self) -> list[FakeRole]:
        """@everyone followed by the configured roles."""
        return [FakeRole(self.id, "@everyone", self.everyone_permissions, position=0), *self.roles]

    def channel(self, channel_id: int) -> FakeChannel | None:
        """The channel with this id, if it is in this guild."""
        return next((c for c in self.channels if c.id == channel_id), None)


@dataclass(frozen=True)
class FakeMember:
    """A guild member; guild_id None means a member of every configured guild."""

    user: FakeUser
    roles: tuple[int, ...] = ()
    guild_id: int | None = None
    nick: str | None = None


def default_guild() -> FakeGuild:
    """One guild with #interviews and #general."""
    return FakeGuild(
        GUILD_ID,
        channels=(FakeChannel(CHANNEL_ID, "interviews"), FakeChannel(OTHER_CHANNEL_ID, "general", position=1)),
    )


class World:
    """The static Discord the fake serves: the bot, its application, guilds and members."""

    def __init__(
        self, guilds: Sequence[FakeGuild], members: Sequence[FakeMember], *, bot: FakeUser, owner: FakeUser
    ) -> None:
        self.bot = bot
        self.owner = owner
        self.application_id = bot.id  # modern applications share their bot user's id
        self.guilds = {g.id: g for g in guilds}
        self.members = list(members)
        self.users = {u.id: u for u in (bot, owner, *(m.user for m in members))}
        self.joined_at = now_iso()
        self.verify_key = secrets.token_hex(32)

    @property
    def default_user(self) -> FakeUser:
        """The first configured member, else the owner."""
        return self.members[0].user if self.members else self.owner

    def default_guild(self) -> FakeGuild:
        """The first configured guild."""
        if not self.guilds:
            raise ValueError("the fake has no guilds; pass dm=True or a channel_id")
        return next(iter(self.guilds.values()))

    def user(self, user_id: int) -> FakeUser:
        """A known user, or a plausible stranger with that id."""
        return self.users.get(user_id) or FakeUser(user_id, f"user{user_id}")

    def find_channel(self, channel_id: int) -> tuple[FakeGuild, FakeChannel] | None:
        """The guild channel with this id and its guild."""
        for guild in self.guilds.values():
            channel = guild.channel(channel_id)
            if channel is not None:
                return guild, channel
        return None

    def members_of(self, guild_id: int) -> list[FakeMember]:
        """The bot, the owner (if known) and the configured members of a guild."""
        guild = self.guilds[guild_id]
        found = [FakeMember(self.bot, guild.bot_role_ids, guild_id)]
        if guild.owner_id == self.owner.id:
            found.append(FakeMember(self.owner, (), guild_id))
        seen = {m.user.id for m in found}
        for member in self.members:
            if member.guild_id in (None, guild_id) and member.user.id not in seen:
                found.append(member)
                seen.add(member.user.id)
        return found

    def member(self, guild_id: int, user_id: int) -> FakeMember | None:
        """The member with this user id in a guild."""
        return next((m for m in self.members_of(guild_id) if m.user.id == user_id), None)

    def permissions(self, guild_id: int, user_id: int) -> int:
        """Guild-level permissions (channels carry no overwrites in the fake)."""
        guild = self.guilds[guild_id]
        if user_id == guild.owner_id:
            return Perm.ALL
        member = self.member(guild_id, user_id)
        value = guild.everyone_permissions
        for role in guild.roles:
            if member is not None and role.id in member.roles:
                value |= role.permissions
        return Perm.ALL if value & Perm.ADMINISTRATOR else value

    def can(self, guild_id: int, user_id: int, bits: int) -> bool:
        """Whether the user has all these permission bits."""
        return self.permissions(guild_id, user_id) & bits == bits

    def member_payload(self, member: FakeMember, *, user: bool = True, permissions: int | None = None) -> Json:
        """The guild member object."""
        data: Json = {
            "roles": [str(r) for r in member.roles], "nick": member.nick, "avatar": None, "banner": None,
            "joined_at": self.joined_at, "premium_since": None, "deaf": False, "mute": False, "pending": False,
            "flags": 0, "communication_disabled_until": None, "avatar_decoration_data": None,
        }
        if user:
            data["user"] = member.user.payload()
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data

    def guild_payload(self, guild: FakeGuild, threads: Sequence[Json], *, all_members: bool = True) -> Json:
        """The full GUILD_CREATE object (without GUILD_MEMBERS Discord only includes the bot's own member)."""
        members = self.members_of(guild.id)
        listed = members if all_members else [m for m in members if m.user.id == self.bot.id]
        return {
            "id": str(guild.id), "name": guild.name, "icon": None, "icon_hash": None, "splash": None,
            "discovery_splash": None, "banner": None, "description": None, "owner_id": str(guild.owner_id),
            "afk_channel_id": None, "afk_timeout": 300, "verification_level": 0, "default_message_notifications": 0,
            "explicit_content_filter": 0, "mfa_level": 0, "nsfw_level": 0, "nsfw": False, "premium_tier": 0,
            "premium_subscription_count": 0, "premium_progress_bar_enabled": False,
            "preferred_locale": guild.locale, "features": [], "system_channel_id": None, "system_channel_flags": 0,
            "rules_channel_id": None, "public_updates_channel_id": None, "safety_alerts_channel_id": None,
            "vanity_url_code": None, "max_members": 500000, "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50, "application_id": None, "widget_enabled": False,
            "incidents_data": None, "hub_type": None, "lazy": True, "large": False, "unavailable": False,
            "joined_at": self.joined_at, "member_count": len(members),
            "roles": [r.payload() for r in guild.all_roles()],
            "members": [self.member_payload(m) for m in listed],
            "channels": [c.payload() for c in guild.channels],
            "threads": [copy.deepcopy(t) for t in threads],
            "emojis": [], "stickers": [], "soundboard_sounds": [], "voice_states": [], "presences": [],
            "stage_instances": [], "guild_scheduled_events": [], "embedded_activities": [], "activity_instances": [],
        }

    def application_payload(self) -> Json:
        """GET /oauth2/applications/@me."""
        return {
            "id": str(self.application_id), "name": self.bot.global_name or self.bot.username, "icon": None,
            "description": "", "summary": "", "type": None, "bot_public": True, "bot_require_code_grant": False,
            "verify_key": self.verify_key, "owner": self.owner.payload(), "team": None, "flags": 0,
            "bot": self.bot.payload(), "rpc_origins": [], "interactions_endpoint_url": None, "redirect_uris": [],
            "tags": [], "approximate_guild_count": len(self.guilds),
        }


# ---------------------------------------------------------------- runtime state


@dataclass(frozen=True)
class ChannelRef:
    """A channel resolved by id: guild channel, thread or DM."""

    payload: Json
    guild_id: int | None
    kind: str  # "guild" | "thread" | "dm"
    recipient_id: int | None = None

    @property
    def id(self) -> int:
        """The channel id."""
        return int(self.payload["id"])

    @property
    def type(self) -> int:
        """The channel type."""
        return int(self.payload["type"])


@dataclass
class StoredMessage:
    """A message the fake knows about, and how it came to exist."""

    payload: Json
    guild_id: int | None
    source: str  # rest | interaction | followup | user | synthetic
    allowed_mentions: Json | None = None

    @property
    def id(self) -> int:
        """The message id."""
        return int(self.payload["id"])

    @property
    def channel_id(self) -> int:
        """The channel id."""
        return int(self.payload["channel_id"])

    @property
    def content(self) -> str:
        """The message text."""
        return str(self.payload.get("content") or "")

    @property
    def flags(self) -> int:
        """The message flags."""
        return int(self.payload.get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        """Whether only the invoking user sees it."""
        return bool(self.flags & EPHEMERAL)

    def custom_ids(self) -> set[str]:
        """Every component custom_id on the message."""
        return {c["custom_id"] for c in walk_components(self.payload.get("components") or []) if "custom_id" in c}


@dataclass
class InteractionRecord:
    """An interaction the fake dispatched, and how the bot answered it."""

    payload: Json
    dispatched_at: float
    response_type: int | None = None
    original_id: int | None = None
    message_ids: list[int] = field(default_factory=list)

    @property
    def id(self) -> int:
        """The interaction id."""
        return int(self.payload["id"])

    @property
    def token(self) -> str:
        """The interaction token."""
        return str(self.payload["token"])

    @property
    def type(self) -> int:
        """The interaction type (2 command, 3 component, 4 autocomplete, 5 modal submit)."""
        return int(self.payload["type"])

    @property
    def channel_id(self) -> int:
        """The channel it happened in."""
        return int(self.payload["channel_id"])

    @property
    def user(self) -> Json:
        """The invoking user object."""
        return dict(self.payload.get("member", {}).get("user") or self.payload.get("user") or {})

    @property
    def component_message_id(self) -> int | None:
        """The message a component or modal-from-component interaction is attached to."""
        message = self.payload.get("message")
        return int(message["id"]) if message else None


@dataclass(frozen=True)
class InteractionCallback:
    """One POST /interactions/{id}/{token}/callback the bot made."""

    interaction_id: int
    type: int
    data: Json | None


@dataclass
class RestCall:
    """One REST request the fake received (Authorization header removed)."""

    method: str
    path: str
    json: Any
    headers: dict[str, str]
    query: dict[str, str] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    status: int = 0


@dataclass
class FailureRule:
    """An injected failure for the next matching request(s)."""

    method: str | None
    path_contains: str
    status: int
    retry_after: float
    times: int
    code: int
    message: str | None
    is_global: bool

    def matches(self, method: str, path: str) -> bool:
        """Whether the rule applies to this request."""
        return (self.method is None or self.method.upper() == method) and self.path_contains in path


def walk_components(components: Sequence[Json]) -> Iterator[Json]:
    """Every component, depth first, through rows, labels, sections and containers."""
    for component in components:
        yield component
        yield from walk_components(component.get("components") or [])
        for key in ("component", "accessory"):
            if isinstance(component.get(key), dict):
                yield from walk_components([component[key]])


class Store:
    """Everything the fake remembers: messages, runtime channels, commands and interactions."""

    def __init__(self, world: World, ids: Snowflakes) -> None:
        self.world = world
        self.ids = ids
        self.messages: dict[int, StoredMessage] = {}
        self.dm_channels: dict[int, Json] = {}  # recipient user id -> DM channel
        self.threads: dict[int, tuple[int, Json]] = {}  # thread id -> (guild id, thread channel)
        self.commands: dict[int | None, list[Json]] = {}  # guild id (None: global) -> commands
        self.interactions: dict[int, InteractionRecord] = {}
        self.callbacks: list[InteractionCallback] = []
        self.modals: dict[str, tuple[InteractionRecord, Json]] = {}

    def dm_channel(self, user: FakeUser) -> ChannelRef:
        """The DM channel with a user, created once and stable afterwards."""
        if user.id not in self.dm_channels:
            self.dm_channels[user.id] = {
                "id": str(self.ids.next()), "type": 1, "last_message_id": None, "flags": 0,
                "recipients": [user.payload()],
            }
        return ChannelRef(self.dm_channels[user.id], None, "dm", user.id)

    def channel(self, channel_id: int) -> ChannelRef | None:
        """Resolve a channel id to a guild channel, thread or DM."""
        found = self.world.find_channel(channel_id)
        if found is not None:
            guild, channel = found
            return ChannelRef(channel.payload(guild.id), guild.id, "guild")
        if channel_id in self.threads:
            guild_id, thread = self.threads[channel_id]
            return ChannelRef(thread, guild_id, "thread")
        for user_id, payload in self.dm_channels.items():
            if int(payload["id"]) == channel_id:
                return ChannelRef(payload, None, "dm", user_id)
        return None

    def threads_of(self, guild_id: int) -> list[Json]:
        """Active threads of a guild."""
        return [thread for gid, thread in self.threads.values() if gid == guild_id]

    def find_command(self, name: str, guild_id: int | None) -> tuple[Json | None, int | None]:
        """A registered chat-input command by name: guild commands first, then global."""
        for scope in ((guild_id, None) if guild_id else (None,)):
            for command in self.commands.get(scope, []):
                if command["name"] == name and command.get("type", 1) == 1:
                    return command, scope
        return None, None

    def find_message_with_component(self, custom_id: str, channel_id: int | None = None) -> StoredMessage | None:
        """The newest message carrying a component with this custom_id."""
        for message in reversed(self.messages.values()):
            if (channel_id is None or message.channel_id == channel_id) and custom_id in message.custom_ids():
                return message
        return None

    def interaction_by_token(self, token: str) -> InteractionRecord | None:
        """The interaction with this token."""
        return next((r for r in self.interactions.values() if r.token == token), None)

    def note_dispatch(self, event: str, data: Json) -> None:
        """Remember interactions when they are dispatched (their 3 s deadline starts now)."""
        if event == "INTERACTION_CREATE" and int(data["id"]) not in self.interactions:
            self.interactions[int(data["id"])] = InteractionRecord(copy.deepcopy(data), time.monotonic())


# ---------------------------------------------------------------- messages


def field_error(code: str, message: str) -> Json:
    """Discord's nested form-error leaf."""
    return {"_errors": [{"code": code, "message": message}]}


def body_errors(body: Json) -> Json:
    """Form errors Discord would report for a message body (length and count limits)."""
    errors: Json = {}
    content = body.get("content")
    if isinstance(content, str) and len(content) > 2000:
        errors["content"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        errors["embeds"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for index, embed in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            if len(embed.get(key) or "") > limit:
                message = f"Must be {limit} or fewer in length."
                errors.setdefault("embeds", {})[str(index)] = {key: field_error("BASE_TYPE_MAX_LENGTH", message)}
    if sum(embed_chars(e) for e in embeds) > 6000 and "embeds" not in errors:
        errors["embeds"] = field_error("MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")
    rows = body.get("components") or []
    if not int(body.get("flags") or 0) & COMPONENTS_V2 and len(rows) > 5:
        errors["components"] = field_error("BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for component in walk_components(rows):
        if len(component.get("custom_id") or "") > 100:
            errors["components"] = field_error("BASE_TYPE_MAX_LENGTH", "custom_id must be 100 or fewer in length.")
    return errors


def embed_chars(embed: Json) -> int:
    """Characters that count towards Discord's 6000-per-message embed limit."""
    fields = embed.get("fields") or []
    parts = [embed.get("title"), embed.get("description"), (embed.get("footer") or {}).get("text"),
             (embed.get("author") or {}).get("name")]
    parts += [f.get("name") for f in fields] + [f.get("value") for f in fields]
    return sum(len(str(part)) for part in parts if part)


def is_empty(body: Json, files: Sequence[Json]) -> bool:
    """Whether a new message would have nothing to show."""
    keys = ("content", "embeds", "components", "sticker_ids", "poll", "attachments")
    return not files and not any(body.get(key) for key in keys)


class MessageFactory:
    """Builds message objects the way Discord returns them and keeps them in the store."""

    def __init__(self, world: World, store: Store, ids: Snowflakes) -> None:
        self.world = world
        self.store = store
        self.ids = ids

    def create(
        self,
        channel: ChannelRef,
        author: FakeUser,
        body: Json,
        *,
        source: str,
        files: Sequence[Json] = (),
        msg_type: int = 0,
        extra: Json | None = None,
    ) -> StoredMessage:
        """A new message in a channel."""
        allowed = body.get("allowed_mentions")
        content = str(body.get("content") or "")
        referenced = self._referenced(body.get("message_reference"))
        mentions, roles, everyone = self.mentions(content, allowed, channel.guild_id, author, referenced)
        payload: Json = {
            "id": str(self.ids.next()), "channel_id": str(channel.id), "author": author.payload(),
            "content": content, "timestamp": now_iso(), "edited_timestamp": None, "tts": bool(body.get("tts")),
            "mention_everyone": everyone, "mentions": mentions, "mention_roles": roles,
            "attachments": [self._attachment(f) for f in files], "embeds": list(body.get("embeds") or []),
            "components": list(body.get("components") or []), "pinned": False, "type": msg_type,
            "flags": int(body.get("flags") or 0),
        }
        if body.get("nonce") is not None:
            payload["nonce"] = body["nonce"]
        if body.get("message_reference"):
            reference = body["message_reference"]
            payload["type"] = 19 if msg_type == 0 else msg_type
            payload["message_reference"] = {
                "type": 0, "message_id": str(reference["message_id"]),
                "channel_id": str(reference.get("channel_id") or channel.id),
            }
            if channel.guild_id:
                payload["message_reference"]["guild_id"] = str(channel.guild_id)
            payload["referenced_message"] = copy.deepcopy(referenced.payload) if referenced else None
        payload.update(extra or {})
        stored = StoredMessage(payload, channel.guild_id, source, allowed)
        self.store.messages[stored.id] = stored
        if channel.kind == "thread":
            channel.payload["message_count"] = channel.payload.get("message_count", 0) + 1
            channel.payload["total_message_sent"] = channel.payload.get("total_message_sent", 0) + 1
        if channel.kind in ("thread", "dm"):
            channel.payload["last_message_id"] = payload["id"]
        return stored

    def edit(self, stored: StoredMessage, body: Json) -> None:
        """Apply an edit (content, embeds, components, allowed_mentions, SUPPRESS_EMBEDS)."""
        payload = stored.payload
        for key in ("content", "embeds", "components"):
            if key in body:
                payload[key] = body[key] if body[key] is not None else ("" if key == "content" else [])
        if body.get("allowed_mentions") is not None:
            stored.allowed_mentions = body["allowed_mentions"]
        author = self.world.user(int(payload["author"]["id"]))
        mentions, roles, everyone = self.mentions(
            str(payload.get("content") or ""), stored.allowed_mentions, stored.guild_id, author, None
        )
        payload.update(mentions=mentions, mention_roles=roles, mention_everyone=everyone)
        flags = int(payload.get("flags") or 0) & ~LOADING
        if body.get("flags") is not None:
            flags = (flags & ~SUPPRESS_EMBEDS) | (int(body["flags"]) & SUPPRESS_EMBEDS)
        payload["flags"] = flags
        payload["edited_timestamp"] = now_iso()

    def mentions(
        self,
        content: str,
        allowed: Json | None,
        guild_id: int | None,
        author: FakeUser,
        referenced: StoredMessage | None,
    ) -> tuple[list[Json], list[str], bool]:
        """The users and roles a message pings, honouring allowed_mentions (absent: everything parses)."""
        parse = None if allowed is None else set(allowed.get("parse") or [])
        users_ok = {int(u) for u in (allowed or {}).get("users") or []}
        roles_ok = {int(r) for r in (allowed or {}).get("roles") or []}
        users: dict[int, Json] = {}
        for match in USER_MENTION.finditer(content):
            user_id = int(match.group(1))
            if parse is None or "users" in parse or user_id in users_ok:
                users.setdefault(user_id, self.world.user(user_id).payload())
        if referenced is not None and (allowed is None or allowed.get("replied_user")):
            users.setdefault(int(referenced.payload["author"]["id"]), copy.deepcopy(referenced.payload["author"]))
        roles: list[str] = []
        if guild_id is not None:
            known = {r.id for r in self.world.guilds[guild_id].roles}
            for match in ROLE_MENTION.finditer(content):
                role_id = int(match.group(1))
                allowed_role = parse is None or "roles" in parse or role_id in roles_ok
                if role_id in known and allowed_role and str(role_id) not in roles:
                    roles.append(str(role_id))
        everyone = ("@everyone" in content or "@here" in content) and (parse is None or "everyone" in parse)
        if guild_id is None or not self.world.can(guild_id, author.id, Perm.MENTION_EVERYONE):
            everyone = False
        return list(users.values()), roles, everyone

    def gateway_payload(self, stored: StoredMessage) -> Json:
        """The MESSAGE_CREATE/UPDATE form: guild_id, the author's member and members on mentions."""
        data = copy.deepcopy(stored.payload)
        if stored.guild_id is None:
            return data
        data["guild_id"] = str(stored.guild_id)
        member = self.world.member(stored.guild_id, int(data["author"]["id"]))
        if member is not None and "webhook_id" not in data:
            data["member"] = self.world.member_payload(member, user=False)
        for mention in data["mentions"]:
            mentioned = self.world.member(stored.guild_id, int(mention["id"]))
            if mentioned is not None:
                mention["member"] = self.world.member_payload(mentioned, user=False)
        return data

    def _referenced(self, reference: Json | None) -> StoredMessage | None:
        if not reference or reference.get("message_id") is None:
            return None
        return self.store.messages.get(int(reference["message_id"]))

    def _attachment(self, file: Json) -> Json:
        attachment_id = self.ids.next()
        url = f"https://cdn.discordapp.com/attachments/0/{attachment_id}/{file['filename']}"
        return {
            "id": str(attachment_id), "filename": file["filename"], "size": file["size"], "url": url,
            "proxy_url": url, "content_type": file.get("content_type"),
        }


# ---------------------------------------------------------------- gateway


def required_intent(event: str, data: Json) -> int:
    """The intent a dispatch needs (0: always sent)."""
    in_guild = bool(data.get("guild_id")) or event.startswith(("GUILD_", "THREAD_", "CHANNEL_"))
    table = {
        "MESSAGE_": (Intent.GUILD_MESSAGES, Intent.DIRECT_MESSAGES),
        "MESSAGE_REACTION_": (Intent.GUILD_MESSAGE_REACTIONS, Intent.DIRECT_MESSAGE_REACTIONS),
        "TYPING_": (Intent.GUILD_MESSAGE_TYPING, Intent.DIRECT_MESSAGE_TYPING),
        "GUILD_MEMBER": (Intent.GUILD_MEMBERS, 0),
        "GUILD_": (Intent.GUILDS, 0),
        "THREAD_": (Intent.GUILDS, 0),
        "CHANNEL_": (Intent.GUILDS, 0),
    }
    for prefix in sorted(table, key=len, reverse=True):
        if event.startswith(prefix):
            guild_bit, dm_bit = table[prefix]
            return guild_bit if in_guild else dm_bit
    return 0


def visible_dispatch(intents: int, event: str, data: Json, bot_id: int) -> Json | None:
    """What a session with these intents receives: None if filtered, content stripped without MESSAGE_CONTENT."""
    needed = required_intent(event, data)
    if needed and not intents & needed:
        return None
    if event not in ("MESSAGE_CREATE", "MESSAGE_UPDATE") or not data.get("guild_id"):
        return data
    if intents & Intent.MESSAGE_CONTENT:
        return data
    author_id = int((data.get("author") or {}).get("id") or 0)
    mentioned = any(int(m["id"]) == bot_id for m in data.get("mentions") or [])
    if author_id == bot_id or mentioned:
        return data
    stripped = copy.deepcopy(data)
    stripped.update(content="", embeds=[], attachments=[], components=[])
    stripped.pop("poll", None)
    return stripped


@dataclass
class GatewaySession:
    """A gateway session: survives disconnects until it is resumed or invalidated."""

    id: str
    intents: int
    shard: list[int] | None
    seq: int = 0
    history: list[tuple[int, str, Json]] = field(default_factory=list)
    connection: GatewayConnection | None = None


class GatewayConnection:
    """One client websocket."""

    def __init__(self, ws: web.WebSocketResponse, query: Mapping[str, str]) -> None:
        self.ws = ws
        self.query = dict(query)
        self.session: GatewaySession | None = None
        self._lock = asyncio.Lock()

    async def send(self, payload: Json) -> None:
        """Send one JSON text frame (the client only inflates binary frames)."""
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(payload))


class FakeGateway:
    """The gateway websocket: HELLO, heartbeats, IDENTIFY/READY/GUILD_CREATE, RESUME, dispatches."""

    HEARTBEAT_INTERVAL_MS = 45_000
    HISTORY_LIMIT = 1000

    def __init__(self, world: World, store: Store, token: str) -> None:
        self.world = world
        self.store = store
        self.token = token
        self.url = ""
        self.connections: list[GatewayConnection] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.identifies: list[Json] = []
        self.resumes: list[Json] = []
        self.presence_updates: list[Json] = []
        self.dispatched: list[tuple[str, Json]] = []
        self.heartbeats = 0

    @property
    def identify(self) -> Json | None:
        """The latest IDENTIFY payload ("d"), token included."""
        return self.identifies[-1] if self.identifies else None

    @property
    def connected(self) -> int:
        """How many identified (or resumed) websockets are open."""
        return sum(1 for s in self.sessions.values() if s.connection is not None)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The websocket endpoint."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = GatewayConnection(ws, request.query)
        self.connections.append(conn)
        try:
            await conn.send({"op": 10, "d": {"heartbeat_interval": self.HEARTBEAT_INTERVAL_MS}})
            async for message in ws:
                if message.type is aiohttp.WSMsgType.TEXT:
                    await self._on_frame(conn, json.loads(message.data))
        finally:
            self.connections.remove(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if ws.close_code in (1000, 1001):  # a clean close ends the session
                    self.sessions.pop(session.id, None)
        return ws

    async def _on_frame(self, conn: GatewayConnection, frame: Json) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:
            self.heartbeats += 1
            await conn.send({"op": 11})
        elif op == 2:
            await self._identify(conn, data or {})
        elif op == 3:
            self.presence_updates.append(data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            await self._members_chunk(conn, data or {})

    async def _identify(self, conn: GatewayConnection, data: Json) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identifies.append(copy.deepcopy(data))
        intents, shard = int(data.get("intents") or 0), data.get("shard")
        session = GatewaySession(secrets.token_hex(16), intents, shard, connection=conn)
        self.sessions[session.id] = session
        conn.session = session
        guilds = [g for g in self.world.guilds.values() if on_shard(g.id, session.shard)]
        user = self.world.bot.payload() | {"verified": True, "mfa_enabled": False, "email": None}
        ready: Json = {
            "v": 10, "user": user, "user_settings": {}, "relationships": [], "private_channels": [],
            "presences": [], "guild_join_requests": [], "geo_ordered_rtc_regions": ["fake"],
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id, "session_type": "normal", "resume_gateway_url": self.url,
            "application": {"id": str(self.world.application_id), "flags": 0}, "auth": {},
            "_trace": ['["fake-discord",{"micros":0}]'],
        }
        if session.shard is not None:
            ready["shard"] = session.shard
        await self._deliver(session, "READY", ready)
        for guild in guilds:
            all_members = bool(session.intents & Intent.GUILD_MEMBERS)
            payload = self.world.guild_payload(guild, self.store.threads_of(guild.id), all_members=all_members)
            await self._deliver(session, "GUILD_CREATE", payload)

    async def _resume(self, conn: GatewayConnection, data: Json) -> None:
        self.resumes.append(copy.deepcopy(data))
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or data.get("token") != self.token:
            await conn.send({"op": 9, "d": False})
            return
        if session.connection is not None and session.connection is not conn:
            await session.connection.ws.close(code=4000)
        session.connection = conn
        conn.session = session
        last_seen = int(data.get("seq") or 0)
        for seq, event, payload in list(session.history):
            if seq > last_seen:
                await conn.send({"op": 0, "t": event, "s": seq, "d": payload})
        await self._deliver(session, "RESUMED", {"_trace": ['["fake-discord",{"micros":0}]']})

    async def _members_chunk(self, conn: GatewayConnection, data: Json) -> None:
        session = conn.session
        guild_id = int(data.get("guild_id") or 0)
        if session is None or guild_id not in self.world.guilds:
            return
        members = [self.world.member_payload(m) for m in self.world.members_of(guild_id)]
        chunk: Json = {"guild_id": str(guild_id), "members": members, "chunk_index": 0, "chunk_count": 1}
        if data.get("nonce"):
            chunk["nonce"] = data["nonce"]
        await self._deliver(session, "GUILD_MEMBERS_CHUNK", chunk)

    async def _deliver(self, session: GatewaySession, event: str, data: Json) -> bool:
        view = visible_dispatch(session.intents, event, data, self.world.bot.id)
        if view is None:
            return False
        session.seq += 1
        session.history.append((session.seq, event, view))
        del session.history[: -self.HISTORY_LIMIT]
        if session.connection is None:
            return False
        await session.connection.send({"op": 0, "t": event, "s": session.seq, "d": view})
        return True

    async def dispatch(self, event: str, data: Json) -> int:
        """Send an op 0 dispatch to every session (intent-filtered); returns how many live sockets got it."""
        self.store.note_dispatch(event, data)
        self.dispatched.append((event, copy.deepcopy(data)))
        delivered = 0
        for session in list(self.sessions.values()):
            delivered += await self._deliver(session, event, data)
        return delivered

    async def send_reconnect(self) -> None:
        """Op 7: ask every client to reconnect and RESUME."""
        for conn in list(self.connections):
            await conn.send({"op": 7, "d": None})

    async def invalidate_sessions(self, resumable: bool = False) -> None:
        """Op 9 to every client; non-resumable sessions are forgotten."""
        for conn in list(self.connections):
            await conn.send({"op": 9, "d": resumable})
        if not resumable:
            self.sessions.clear()

    async def close_all(self, code: int = 1001) -> None:
        """Close every websocket from the server side."""
        for conn in list(self.connections):
            await conn.ws.close(code=code)


def on_shard(guild_id: int, shard: list[int] | None) -> bool:
    """Discord's shard formula."""
    return shard is None or (guild_id >> 22) % int(shard[1]) == int(shard[0])


# ---------------------------------------------------------------- payload builders


def infer_option_type(value: object) -> int:
    """Application command option type for a Python value."""
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, FakeUser):
        return 6
    return 3


def leaf_schema(command: Json | None, path: Sequence[str]) -> list[Json]:
    """The registered options of a (sub)command, following subcommand names."""
    options: list[Json] = list((command or {}).get("options") or [])
    for name in path:
        sub = next((o for o in options if o.get("name") == name and o.get("type") in (1, 2)), None)
        options = list((sub or {}).get("options") or [])
    return options


class Payloads:
    """Builders for realistic INTERACTION_CREATE and MESSAGE_CREATE payloads."""

    def __init__(self, world: World, store: Store, ids: Snowflakes, messages: MessageFactory) -> None:
        self.world = world
        self.store = store
        self.ids = ids
        self.messages = messages

    def locate(
        self, user: FakeUser, guild_id: int | None = None, channel_id: int | None = None, *, dm: bool = False
    ) -> ChannelRef:
        """Where something happens: a DM with the user, a given channel, or the guild's first text channel."""
        if dm:
            return self.store.dm_channel(user)
        if channel_id is not None:
            ref = self.store.channel(channel_id)
            if ref is None:
                raise ValueError(f"unknown channel {channel_id}")
            return ref
        guild = self.world.guilds[guild_id] if guild_id else self.world.default_guild()
        text = next(c for c in guild.channels if c.type == 0)
        return ChannelRef(text.payload(guild.id), guild.id, "guild")

    def interaction_command(
        self,
        name: str,
        options: Mapping[str, object] | list[Json] | None = None,
        *,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
        resolved: Json | None = None,
    ) -> Json:
        """A slash command (type 2); "interview ask" nests subcommands, dict options get typed from the schema."""
        user = user or self.world.default_user
        channel = self.locate(user, guild_id, channel_id, dm=dm)
        parts = name.split()
        command, scope = self.store.find_command(parts[0], channel.guild_id)
        leaf, auto_resolved = self._options(options, leaf_schema(command, parts[1:]), channel.guild_id)
        nested = leaf
        for depth in range(len(parts) - 1, 0, -1):
            nested = [{"type": 1 if depth == len(parts) - 1 else 2, "name": parts[depth], "options": nested}]
        data: Json = {"id": (command or {}).get("id") or str(self.ids.next()), "name": parts[0], "type": 1}
        if nested:
            data["options"] = nested
        if scope is not None:
            data["guild_id"] = str(scope)
        if resolved or auto_resolved:
            data["resolved"] = resolved or auto_resolved
        return self._envelope(2, data, user, channel, locale)

    def interaction_component(
        self,
        custom_id: str,
        component_type: int = 2,
        *,
        message: Json | None = None,
        values: Sequence[str] | None = None,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
    ) -> Json:
        """A component click (type 3) on the newest message carrying custom_id (a bot message is made if none)."""
        if message is None:
            stored = self.store.find_message_with_component(custom_id, channel_id)
            if stored is None:
                where = self.locate(user or self.world.default_user, guild_id, channel_id, dm=dm)
                row = {"type": 1, "components": [{"type": 2, "style": 1, "label": custom_id, "custom_id": custom_id}]}
                stored = self.messages.create(where, self.world.bot, {"components": [row]}, source="synthetic")
            message = stored.payload
        channel = self.store.channel(int(message["channel_id"]))
        if channel is None:
            raise ValueError(f"message {message['id']} is in an unknown channel")
        user = user or self._invoker(message, channel)
        data: Json = {"custom_id": custom_id, "component_type": component_type}
        if component_type != 2:
            data["values"] = list(values or [])
        return self._envelope(3, data, user, channel, locale, message=copy.deepcopy(message))

    def interaction_modal_submit(
        self,
        custom_id: str,
        values: Mapping[str, str | Sequence[str]] | None = None,
        *,
        components: list[Json] | None = None,
        user: FakeUser | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        dm: bool = False,
        locale: str = "en-US",
    ) -> Json:
        """A modal submit (type 5) mirroring the modal the bot sent (labels or action rows), by the same user."""
        opened = self.store.modals.get(custom_id)
        if components is None:
            template = opened[1].get("components") if opened else None
            components = self._submitted(template, values or {})
        message: Json | None = None
        if opened and user is None and guild_id is None and channel_id is None and not dm:
            record = opened[0]
            user = self.world.user(int(record.user["id"]))
            channel = self.store.channel(record.channel_id) or self.locate(user)
            message = record.payload.get("message")
        else:
            user = user or self.world.default_user
            channel = self.locate(user, guild_id, channel_id, dm=dm)
        data: Json = {"custom_id": custom_id, "components": components}
        return self._envelope(5, data, user, channel, locale, message=copy.deepcopy(message) if message else None)

    def message_create(
        self,
        content: str,
        author: FakeUser | None = None,
        *,
        channel_id: int | None = None,
        guild_id: int | None = None,
        dm: bool = False,
        reply_to: int | None = None,
        embeds: list[Json] | None = None,
    ) -> Json:
        """A MESSAGE_CREATE from a user (guild channel by default, dm=True for the author's DM); it is stored."""
        author = author or self.world.default_user
        channel = self.locate(author, guild_id, channel_id, dm=dm)
        body: Json = {"content": content, "embeds": embeds or []}
        if reply_to is not None:
            body["message_reference"] = {"message_id": str(reply_to), "channel_id": str(channel.id)}
        stored = self.messages.create(channel, author, body, source="user")
        return self.messages.gateway_payload(stored)

    def _invoker(self, message: Json, channel: ChannelRef) -> FakeUser:
        metadata = message.get("interaction_metadata") or {}
        if metadata.get("user"):
            return self.world.user(int(metadata["user"]["id"]))
        if channel.recipient_id is not None:
            return self.world.user(channel.recipient_id)
        return self.world.default_user

    def _options(
        self, options: Mapping[str, object] | list[Json] | None, schema: list[Json], guild_id: int | None
    ) -> tuple[list[Json], Json]:
        if options is None:
            return [], {}
        if isinstance(options, list):
            return options, {}
        types = {o["name"]: int(o["type"]) for o in schema}
        built: list[Json] = []
        resolved: Json = {}
        for key, value in options.items():
            option_type = types.get(key) or infer_option_type(value)
            if isinstance(value, FakeUser) or option_type == 6:
                target = value if isinstance(value, FakeUser) else self.world.user(int(str(value)))
                resolved.setdefault("users", {})[str(target.id)] = target.payload()
                member = self.world.member(guild_id, target.id) if guild_id else None
                if member is not None and guild_id is not None:
                    perms = self.world.permissions(guild_id, target.id)
                    member_data = self.world.member_payload(member, user=False, permissions=perms)
                    resolved.setdefault("members", {})[str(target.id)] = member_data
                value = str(target.id)
            elif option_type in (7, 8, 9):
                value = str(value)
            built.append({"name": key, "type": option_type, "value": value})
        return built, resolved

    def _submitted(self, template: list[Json] | None, values: Mapping[str, str | Sequence[str]]) -> list[Json]:
        ids = iter(range(1, 1000))
        if template is None:
            return [
                {"type": 1, "id": next(ids), "components": [self._field({"type": 4, "custom_id": k}, values, ids)]}
                for k in values
            ]
        submitted: list[Json] = []
        for component in template:
            if component.get("type") == 1:
                inner = [self._field(c, values, ids) for c in component.get("components") or []]
                submitted.append({"type": 1, "id": component.get("id") or next(ids), "components": inner})
            elif component.get("type") == 18:
                label_id = component.get("id") or next(ids)
                inner_field = self._field(component["component"], values, ids)
                submitted.append({"type": 18, "id": label_id, "component": inner_field})
            elif component.get("type") == 10:
                submitted.append({"type": 10, "id": component.get("id") or next(ids)})
        return submitted

    @staticmethod
    def _field(component: Json, values: Mapping[str, str | Sequence[str]], ids: Iterator[int]) -> Json:
        custom_id = component.get("custom_id", "")
        result: Json = {"type": component["type"], "id": component.get("id") or next(ids), "custom_id": custom_id}
        value = values.get(custom_id)
        if component["type"] == 4:
            result["value"] = str(value if value is not None else component.get("value") or "")
        else:
            result["values"] = [value] if isinstance(value, str) else list(value or [])
        return result

    def _envelope(
        self, itype: int, data: Json, user: FakeUser, channel: ChannelRef, locale: str, message: Json | None = None
    ) -> Json:
        payload: Json = {
            "id": str(self.ids.next()), "application_id": str(self.world.application_id), "type": itype,
            "data": data, "token": secrets.token_urlsafe(48), "version": 1, "locale": locale, "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT, "channel_id": str(channel.id),
        }
        if channel.guild_id is not None:
            guild = self.world.guilds[channel.guild_id]
            member = self.world.member(guild.id, user.id) or FakeMember(user, (), guild.id)
            perms = self.world.permissions(guild.id, user.id)
            payload.update(
                guild_id=str(guild.id), guild={"id": str(guild.id), "locale": guild.locale, "features": []},
                guild_locale=guild.locale, member=self.world.member_payload(member, permissions=perms),
                app_permissions=str(self.world.permissions(guild.id, self.world.bot.id)),
                authorizing_integration_owners={"0": str(guild.id)}, context=0,
                channel=copy.deepcopy(channel.payload) | {"permissions": str(perms)},
            )
        else:
            payload.update(
                user=user.payload(), app_permissions=str(Perm.DM_APP), authorizing_integration_owners={"0": "0"},
                context=1, channel=copy.deepcopy(channel.payload),
            )
        if message is not None:
            payload["message"] = message
        return payload


# ---------------------------------------------------------------- REST


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON response whose Content-Type is exactly application/json (discord.py compares it verbatim)."""
    return web.Response(body=json.dumps(data).encode(), status=status, content_type="application/json", headers=headers)


def api_error(status: int, code: int, message: str, errors: Json | None = None) -> web.Response:
    """A Discord error body."""
    body: Json = {"message": message, "code": code}
    if errors:
        body["errors"] = errors
    return json_response(body, status)


def no_content() -> web.Response:
    """204."""
    return web.Response(status=204)


def invalid_message(body: Json, files: Sequence[Json], *, creating: bool) -> web.Response | None:
    """The 400 Discord returns for an empty or oversized message body."""
    if creating and is_empty(body, files):
        return api_error(400, 50006, "Cannot send an empty message")
    errors = body_errors(body)
    return api_error(400, 50035, "Invalid Form Body", errors) if errors else None


@dataclass
class Backend:
    """What the REST handlers share."""

    world: World
    store: Store
    ids: Snowflakes
    messages: MessageFactory
    gateway: FakeGateway
    echo_own_messages: bool
    interaction_deadline: float
    closed_dms: set[int] = field(default_factory=set)

    async def echo(self, event: str, stored: StoredMessage) -> None:
        """Dispatch MESSAGE_CREATE/UPDATE for a message the bot made, as Discord does (not for ephemerals)."""
        if self.echo_own_messages and not stored.ephemeral:
            await self.gateway.dispatch(event, self.messages.gateway_payload(stored))

    async def echo_delete(self, stored: StoredMessage) -> None:
        """Dispatch MESSAGE_DELETE for a removed message."""
        if self.echo_own_messages and not stored.ephemeral:
            data: Json = {"id": str(stored.id), "channel_id": str(stored.channel_id)}
            if stored.guild_id is not None:
                data["guild_id"] = str(stored.guild_id)
            await self.gateway.dispatch("MESSAGE_DELETE", data)


def body_of(request: web.Request) -> Json:
    """The parsed JSON (or multipart payload_json) body as a dict."""
    body = request.get(BODY_KEY)
    return body if isinstance(body, dict) else {}


def files_of(request: web.Request) -> list[Json]:
    """The uploaded files of a multipart request."""
    return list(request.get(FILES_KEY) or [])


class CoreApi:
    """Users, application, gateway discovery, channels, messages, threads and DMs."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the routes."""
        p = API_PREFIX
        routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
            ("GET", "/users/@me", self.get_me),
            ("POST", "/users/@me/channels", self.create_dm),
            ("GET", "/users/{user_id}", self.get_user),
            ("GET", "/oauth2/applications/@me", self.get_application),
            ("GET", "/applications/@me", self.get_application),
            ("GET", "/gateway", self.get_gateway),
            ("GET", "/gateway/bot", self.get_gateway_bot),
            ("GET", "/channels/{channel_id}", self.get_channel),
            ("POST", "/channels/{channel_id}/messages", self.post_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self.get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self.patch_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self.delete_message),
            ("POST", "/channels/{channel_id}/messages/{message_id}/threads", self.thread_from_message),
            ("POST", "/channels/{channel_id}/threads", self.thread_without_message),
            ("POST", "/channels/{channel_id}/typing", self.typing),
            ("PUT", "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me", self.react),
        ]
        for method, path, handler in routes:
            router.add_route(method, p + path, handler)

    async def get_me(self, request: web.Request) -> web.Response:
        """The bot user."""
        extra = {"verified": True, "mfa_enabled": False, "email": None, "locale": "en-US", "premium_type": 0}
        return json_response(self.b.world.bot.payload() | extra)

    async def get_user(self, request: web.Request) -> web.Response:
        """A known user."""
        user = self.b.world.users.get(int(request.match_info["user_id"]))
        return json_response(user.payload()) if user else api_error(404, 10013, "Unknown User")

    async def get_application(self, request: web.Request) -> web.Response:
        """The application."""
        return json_response(self.b.world.application_payload())

    async def get_gateway(self, request: web.Request) -> web.Response:
        """GET /gateway."""
        return json_response({"url": self.b.gateway.url})

    async def get_gateway_bot(self, request: web.Request) -> web.Response:
        """GET /gateway/bot."""
        limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
        return json_response({"url": self.b.gateway.url, "shards": 1, "session_start_limit": limit})

    async def create_dm(self, request: web.Request) -> web.Response:
        """Open (or return the existing) DM channel with a user."""
        recipient = body_of(request).get("recipient_id")
        if recipient is None:
            return api_error(400, 50035, "Invalid Form Body", {"recipient_id": field_error("BASE_TYPE_REQUIRED", "")})
        return json_response(self.b.store.dm_channel(self.b.world.user(int(recipient))).payload)

    async def get_channel(self, request: web.Request) -> web.Response:
        """A guild channel, thread or DM."""
        ref = self.b.store.channel(int(request.match_info["channel_id"]))
        return json_response(ref.payload) if ref else api_error(404, 10003, "Unknown Channel")

    def _writable(self, channel_id: int) -> tuple[ChannelRef | None, web.Response | None]:
        ref = self.b.store.channel(channel_id)
        if ref is None:
            return None, api_error(404, 10003, "Unknown Channel")
        if ref.kind == "dm" and ref.recipient_id in self.b.closed_dms:
            return None, api_error(403, 50007, "Cannot send messages to this user")
        if ref.kind == "guild" and ref.type not in (0, 2, 5, 13):
            return None, api_error(400, 50008, "Cannot send messages in a non-text channel")
        if ref.guild_id is not None:
            send = Perm.SEND_MESSAGES_IN_THREADS if ref.kind == "thread" else Perm.SEND_MESSAGES
            if not self.b.world.can(ref.guild_id, self.b.world.bot.id, Perm.VIEW_CHANNEL | send):
                return None, api_error(403, 50013, "Missing Permissions")
        return ref, None

    async def post_message(self, request: web.Request) -> web.Response:
        """Create a message as the bot."""
        ref, error = self._writable(int(request.match_info["channel_id"]))
        if error is not None or ref is None:
            return error or api_error(404, 10003, "Unknown Channel")
        body, files = body_of(request), files_of(request)
        invalid = invalid_message(body, files, creating=True)
        if invalid is not None:
            return invalid
        reference = body.get("message_reference")
        if reference and int(reference["message_id"]) not in self.b.store.messages:
            if reference.get("fail_if_not_exists", True):
                errors = {"message_reference": field_error("MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")}
                return api_error(400, 50035, "Invalid Form Body", errors)
            body = {k: v for k, v in body.items() if k != "message_reference"}
        stored = self.b.messages.create(ref, self.b.world.bot, body, source="rest", files=files)
        await self.b.echo("MESSAGE_CREATE", stored)
        return json_response(stored.payload)

    def _message(self, request: web.Request) -> StoredMessage | None:
        stored = self.b.store.messages.get(int(request.match_info["message_id"]))
        if stored is None or stored.channel_id != int(request.match_info["channel_id"]) or stored.ephemeral:
            return None
        return stored

    async def get_message(self, request: web.Request) -> web.Response:
        """Fetch a message."""
        stored = self._message(request)
        return json_response(stored.payload) if stored else api_error(404, 10008, "Unknown Message")

    async def patch_message(self, request: web.Request) -> web.Response:
        """Edit one of the bot's messages."""
        stored = self._message(request)
        if stored is None:
            return api_error(404, 10008, "Unknown Message")
        if int(stored.payload["author"]["id"]) != self.b.world.bot.id:
            return api_error(403, 50005, "Cannot edit a message authored by another user")
        invalid = invalid_message(body_of(request), [], creating=False)
        if invalid is not None:
            return invalid
        self.b.messages.edit(stored, body_of(request))
        await self.b.echo("MESSAGE_UPDATE", stored)
        return json_response(stored.payload)

    async def delete_message(self, request: web.Request) -> web.Response:
        """Delete a message (own, or anyone's with MANAGE_MESSAGES)."""
        stored = self._message(request)
        if stored is None:
            return api_error(404, 10008, "Unknown Message")
        own = int(stored.payload["author"]["id"]) == self.b.world.bot.id
        moderator = stored.guild_id is not None and self.b.world.can(
            stored.guild_id, self.b.world.bot.id, Perm.MANAGE_MESSAGES
        )
        if not own and not moderator:
            return api_error(403, 50013, "Missing Permissions")
        del self.b.store.messages[stored.id]
        await self.b.echo_delete(stored)
        return no_content()

    async def thread_from_message(self, request: web.Request) -> web.Response:
        """Start a public thread from a message; the thread's id is the message's id."""
        ref = self.b.store.channel(int(request.match_info["channel_id"]))
        if ref is None:
            return api_error(404, 10003, "Unknown Channel")
        if ref.kind != "guild" or ref.type not in (0, 5) or ref.guild_id is None:
            return api_error(400, 50024, "Cannot execute action on this channel type")
        stored = self._message(request)
        if stored is None:
            return api_error(404, 10008, "Unknown Message")
        if stored.id in self.b.store.threads:
            return api_error(400, 160004, "A thread has already been created for this message")
        if not body_of(request).get("name"):
            return api_error(400, 50035, "Invalid Form Body", {"name": field_error("BASE_TYPE_REQUIRED", "")})
        if not self.b.world.can(ref.guild_id, self.b.world.bot.id, Perm.CREATE_PUBLIC_THREADS):
            return api_error(403, 50013, "Missing Permissions")
        thread = self._thread(ref, stored.id, body_of(request), 11)
        stored.payload["thread"] = copy.deepcopy(thread)
        stored.payload["flags"] = stored.flags | HAS_THREAD
        await self.b.gateway.dispatch("THREAD_CREATE", thread | {"newly_created": True})
        return json_response(thread, status=201)

    async def thread_without_message(self, request: web.Request) -> web.Response:
        """Start a thread with no starter message."""
        ref = self.b.store.channel(int(request.match_info["channel_id"]))
        if ref is None:
            return api_error(404, 10003, "Unknown Channel")
        if ref.kind != "guild" or ref.type not in (0, 5) or ref.guild_id is None:
            return api_error(400, 50024, "Cannot execute action on this channel type")
        body = body_of(request)
        if not body.get("name"):
            return api_error(400, 50035, "Invalid Form Body", {"name": field_error("BASE_TYPE_REQUIRED", "")})
        thread = self._thread(ref, self.b.ids.next(), body, int(body.get("type") or 12))
        await self.b.gateway.dispatch("THREAD_CREATE", thread | {"newly_created": True})
        return json_response(thread, status=201)

    def _thread(self, parent: ChannelRef, thread_id: int, body: Json, thread_type: int) -> Json:
        stamp = now_iso()
        thread: Json = {
            "id": str(thread_id), "guild_id": str(parent.guild_id), "parent_id": str(parent.id),
            "owner_id": str(self.b.world.bot.id), "name": str(body["name"])[:100], "type": thread_type,
            "last_message_id": None, "rate_limit_per_user": int(body.get("rate_limit_per_user") or 0),
            "message_count": 0, "member_count": 1, "total_message_sent": 0, "flags": 0, "applied_tags": [],
            "thread_metadata": {
                "archived": False, "auto_archive_duration": int(body.get("auto_archive_duration") or 1440),
                "archive_timestamp": stamp, "locked": False, "create_timestamp": stamp,
                "invitable": bool(body.get("invitable", True)),
            },
        }
        self.b.store.threads[thread_id] = (int(parent.guild_id or 0), thread)
        return thread

    async def typing(self, request: web.Request) -> web.Response:
        """Trigger typing."""
        ref = self.b.store.channel(int(request.match_info["channel_id"]))
        return no_content() if ref else api_error(404, 10003, "Unknown Channel")

    async def react(self, request: web.Request) -> web.Response:
        """Add a reaction as the bot."""
        return no_content() if self._message(request) else api_error(404, 10008, "Unknown Message")


class InteractionApi:
    """Interaction callbacks and the interaction webhooks (follow-ups and @original)."""

    VALID_RESPONSES: ClassVar[dict[int, frozenset[int]]] = {
        1: frozenset({1}),
        2: frozenset({4, 5, 9, 12}),
        3: frozenset({4, 5, 6, 7, 9, 12}),
        4: frozenset({8}),
        5: frozenset({4, 5, 6, 7}),
    }

    def __init__(self, backend: Backend) -> None:
        self.b = backend

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the routes."""
        p = API_PREFIX
        router.add_route("POST", p + "/interactions/{interaction_id}/{token}/callback", self.callback)
        router.add_route("POST", p + "/webhooks/{application_id}/{token}", self.followup)
        message_path = p + "/webhooks/{application_id}/{token}/messages/{message_id}"
        for method in ("GET", "PATCH", "DELETE"):
            router.add_route(method, message_path, self.webhook_message)

    async def callback(self, request: web.Request) -> web.Response:
        """POST /interactions/{id}/{token}/callback."""
        record = self.b.store.interactions.get(int(request.match_info["interaction_id"]))
        if record is None or record.token != request.match_info["token"]:
            return api_error(404, 10062, "Unknown interaction")
        if time.monotonic() - record.dispatched_at > self.b.interaction_deadline:
            return api_error(404, 10062, "Unknown interaction")
        if record.response_type is not None:
            return api_error(400, 40060, "Interaction has already been acknowledged.")
        body = body_of(request)
        response_type = int(body.get("type") or 0)
        data = body.get("data") if isinstance(body.get("data"), dict) else None
        problem = self._check(record, response_type, data or {}, files_of(request))
        if problem is not None:
            return problem
        record.response_type = response_type
        self.b.store.callbacks.append(InteractionCallback(record.id, response_type, copy.deepcopy(data)))
        message = await self._apply(record, response_type, data or {}, files_of(request))
        if request.query.get("with_response", "").lower() not in ("1", "true"):
            return no_content()
        return json_response(self._callback_response(record, response_type, message))

    def _check(self, record: InteractionRecord, rtype: int, data: Json, files: list[Json]) -> web.Response | None:
        form_error = api_error(400, 50035, "Invalid Form Body", {"type": field_error("INTERACTION_TYPE_INVALID", "")})
        if rtype not in self.VALID_RESPONSES.get(record.type, frozenset()):
            return form_error
        if rtype in (6, 7) and record.component_message_id is None:
            return form_error
        if rtype in (4, 7):
            return invalid_message(data, files, creating=rtype == 4)
        if rtype == 9 and not (data.get("custom_id") and data.get("title") and data.get("components")):
            return api_error(400, 50035, "Invalid Form Body", {"data": field_error("MODAL_INVALID", "")})
        return None

    async def _apply(
        self, record: InteractionRecord, rtype: int, data: Json, files: list[Json]
    ) -> StoredMessage | None:
        if rtype == 9:
            self.b.store.modals[str(data["custom_id"])] = (record, copy.deepcopy(data))
            return None
        if rtype in (6, 7):
            record.original_id = record.component_message_id
            stored = self.b.store.messages.get(record.component_message_id or 0)
            if rtype == 7 and stored is not None:
                self.b.messages.edit(stored, data)
                await self.b.echo("MESSAGE_UPDATE", stored)
            return stored
        if rtype not in (4, 5):
            return None
        channel = self.b.store.channel(record.channel_id)
        if channel is None:
            return None
        body = data if rtype == 4 else {"flags": LOADING | (int(data.get("flags") or 0) & EPHEMERAL)}
        msg_type = 20 if record.type == 2 else 0
        extra = self._extra(record)
        stored = self.b.messages.create(
            channel, self.b.world.bot, body, source="interaction", files=files, msg_type=msg_type, extra=extra
        )
        record.original_id = stored.id
        await self.b.echo("MESSAGE_CREATE", stored)
        return stored

    def _extra(self, record: InteractionRecord) -> Json:
        app_id = str(self.b.world.application_id)
        metadata: Json = {
            "id": str(record.id), "type": record.type, "user": record.user,
            "authorizing_integration_owners": record.payload.get("authorizing_integration_owners", {}),
        }
        if record.component_message_id is not None:
            metadata["interacted_message_id"] = str(record.component_message_id)
        return {"webhook_id": app_id, "application_id": app_id, "interaction_metadata": metadata}

    @staticmethod
    def _callback_response(record: InteractionRecord, rtype: int, message: StoredMessage | None) -> Json:
        interaction: Json = {
            "id": str(record.id), "type": record.type, "response_message_loading": rtype == 5,
            "response_message_ephemeral": bool(message and message.ephemeral),
        }
        resource: Json = {"type": rtype}
        if message is not None and rtype in (4, 5, 7):
            interaction["response_message_id"] = str(message.id)
        if message is not None and rtype in (4, 7):
            resource["message"] = copy.deepcopy(message.payload)
        return {"interaction": interaction, "resource": resource}

    def _webhook_record(self, request: web.Request) -> InteractionRecord | None:
        if request.match_info["application_id"] != str(self.b.world.application_id):
            return None
        record = self.b.store.interaction_by_token(request.match_info["token"])
        return record if record is not None and record.response_type is not None else None

    async def followup(self, request: web.Request) -> web.Response:
        """POST /webhooks/{application_id}/{token}: a follow-up; the first after a deferral resolves it."""
        record = self._webhook_record(request)
        if record is None:
            return api_error(404, 10015, "Unknown Webhook")
        body, files = body_of(request), files_of(request)
        invalid = invalid_message(body, files, creating=True)
        if invalid is not None:
            return invalid
        original = self.b.store.messages.get(record.original_id or 0)
        if record.response_type == 5 and original is not None and original.flags & LOADING:
            self.b.messages.edit(original, {k: v for k, v in body.items() if k != "flags"})
            original.payload["edited_timestamp"] = None
            await self.b.echo("MESSAGE_UPDATE", original)
            stored = original
        else:
            channel = self.b.store.channel(record.channel_id)
            if channel is None:
                return api_error(404, 10003, "Unknown Channel")
            extra = self._extra(record)
            stored = self.b.messages.create(
                channel, self.b.world.bot, body, source="followup", files=files, extra=extra
            )
            await self.b.echo("MESSAGE_CREATE", stored)
        record.message_ids.append(stored.id)
        if request.query.get("wait", "false").lower() not in ("1", "true"):
            return no_content()
        return json_response(stored.payload)

    async def webhook_message(self, request: web.Request) -> web.Response:
        """GET/PATCH/DELETE /webhooks/{application_id}/{token}/messages/{message_id|@original}."""
        record = self._webhook_record(request)
        if record is None:
            return api_error(404, 10015, "Unknown Webhook")
        raw_id = request.match_info["message_id"]
        message_id = record.original_id if raw_id == "@original" else int(raw_id)
        allowed = {record.original_id, *record.message_ids}
        stored = self.b.store.messages.get(message_id or 0) if message_id in allowed else None
        if stored is None:
            return api_error(404, 10008, "Unknown Message")
        if request.method == "GET":
            return json_response(stored.payload)
        if request.method == "DELETE":
            del self.b.store.messages[stored.id]
            await self.b.echo_delete(stored)
            return no_content()
        invalid = invalid_message(body_of(request), files_of(request), creating=False)
        if invalid is not None:
            return invalid
        self.b.messages.edit(stored, body_of(request))
        await self.b.echo("MESSAGE_UPDATE", stored)
        return json_response(stored.payload)


COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")


class CommandApi:
    """Application command registration (global and per guild)."""

    def __init__(self, backend: Backend) -> None:
        self.b = backend

    def register(self, router: web.UrlDispatcher) -> None:
        """Add the routes."""
        base = "/applications/{application_id}"
        for path in (base + "/commands", base + "/guilds/{guild_id}/commands"):
            router.add_route("GET", API_PREFIX + path, self.list_commands)
            router.add_route("PUT", API_PREFIX + path, self.bulk_overwrite)
            router.add_route("POST", API_PREFIX + path, self.upsert)

    def _scope(self, request: web.Request) -> tuple[int | None, web.Response | None]:
        if request.match_info["application_id"] != str(self.b.world.application_id):
            return None, api_error(403, 50001, "Missing Access")
        raw = request.match_info.get("guild_id")
        if raw is None:
            return None, None
        if int(raw) not in self.b.world.guilds:
            return None, api_error(403, 50001, "Missing Access")
        return int(raw), None

    async def list_commands(self, request: web.Request) -> web.Response:
        """GET the registered commands."""
        scope, error = self._scope(request)
        return error or json_response(self.b.store.commands.get(scope, []))

    async def bulk_overwrite(self, request: web.Request) -> web.Response:
        """PUT: replace every command in the scope, keeping ids of commands that stay."""
        scope, error = self._scope(request)
        if error is not None:
            return error
        body = request.get(BODY_KEY)
        if not isinstance(body, list):
            return api_error(400, 50035, "Invalid Form Body")
        errors = self._errors(body)
        if errors:
            return api_error(400, 50035, "Invalid Form Body", errors)
        self.b.store.commands[scope] = [self._registered(c, scope) for c in body]
        return json_response(self.b.store.commands[scope])

    async def upsert(self, request: web.Request) -> web.Response:
        """POST: create or replace one command."""
        scope, error = self._scope(request)
        if error is not None:
            return error
        body = body_of(request)
        errors = self._errors([body])
        if errors:
            return api_error(400, 50035, "Invalid Form Body", errors)
        command = self._registered(body, scope)
        others = [c for c in self.b.store.commands.get(scope, []) if c["id"] != command["id"]]
        self.b.store.commands[scope] = [*others, command]
        return json_response(command, status=201)

    def _registered(self, command: Json, scope: int | None) -> Json:
        kind = int(command.get("type") or 1)
        old = next(
            (c for c in self.b.store.commands.get(scope, []) if c["name"] == command.get("name") and c["type"] == kind),
            None,
        )
        registered: Json = copy.deepcopy(command) | {
            "id": old["id"] if old else str(self.b.ids.next()), "application_id": str(self.b.world.application_id),
            "version": str(self.b.ids.next()), "type": kind, "description": command.get("description") or "",
            "options": copy.deepcopy(command.get("options") or []), "nsfw": bool(command.get("nsfw")),
            "default_member_permissions": command.get("default_member_permissions"),
            "integration_types": command.get("integration_types") or [0],
        }
        if scope is not None:
            registered["guild_id"] = str(scope)
        return registered

    @staticmethod
    def _errors(commands: list[Json]) -> Json:
        errors: Json = {}
        seen: set[tuple[str, int]] = set()
        for index, command in enumerate(commands):
            name, kind = str(command.get("name") or ""), int(command.get("type") or 1)
            problems = CommandApi._option_errors(command) if kind == 1 else []
            if (name, kind) in seen:
                problems.append("APPLICATION_COMMANDS_DUPLICATE_NAME")
            seen.add((name, kind))
            if problems:
                errors[str(index)] = field_error(problems[0], f"invalid command {name!r}")
        return errors

    @staticmethod
    def _option_errors(item: Json) -> list[str]:
        problems: list[str] = []
        name, description = str(item.get("name") or ""), str(item.get("description") or "")
        if not COMMAND_NAME.match(name) or name != name.lower():
            problems.append("APPLICATION_COMMAND_INVALID_NAME")
        if not 1 <= len(description) <= 100:
            problems.append("BASE_TYPE_BAD_LENGTH")
        options = item.get("options") or []
        if len(options) > 25:
            problems.append("BASE_TYPE_MAX_LENGTH")
        for option in options:
            problems.extend(CommandApi._option_errors(option))
        return problems


# ---------------------------------------------------------------- the server


async def read_body(request: web.Request) -> tuple[Any, list[Json]]:
    """Parse a JSON body, or a multipart body's payload_json and files."""
    if request.content_type == "multipart/form-data":
        payload: Any = None
        files: list[Json] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                data = await part.read()
                content_type = part.headers.get(aiohttp.hdrs.CONTENT_TYPE)
                filename = part.filename or "file"
                files.append({"name": part.name, "filename": filename, "size": len(data), "content_type": content_type})
        return payload, files
    raw = await request.read()
    if not raw:
        return None, []
    try:
        return json.loads(raw), []
    except ValueError:
        return raw.decode(errors="replace"), []


def ratelimit_headers(bucket: str, limit: int, remaining: int, reset_after: float) -> dict[str, str]:
    """Discord's X-RateLimit-* headers (discord.py also insists on a Via header before honouring a 429)."""
    return {
        "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}", "X-RateLimit-Reset-After": f"{reset_after:.3f}",
        "X-RateLimit-Bucket": bucket, "Via": "1.1 google",
    }


async def poll_until(probe: Callable[[], T | None], timeout: float, description: str) -> T:
    """Poll a probe every 10 ms until it returns something truthy, or raise TimeoutError."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = probe()
        if found:
            return found
        if loop.time() > deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {description}")
        await asyncio.sleep(0.01)


class FakeDiscord:
    """The fake Discord: REST under /api/v10 plus the gateway websocket, on a random 127.0.0.1 port."""

    def __init__(
        self,
        guilds: Sequence[FakeGuild] | None = None,
        members: Sequence[FakeMember] | None = None,
        *,
        token: str = FAKE_TOKEN,
        bot: FakeUser = BOT_USER,
        owner: FakeUser = OWNER,
        echo_own_messages: bool = True,
        interaction_deadline: float = 3.0,
    ) -> None:
        self.token = token
        self.ids = Snowflakes()
        self.world = World(
            [default_guild()] if guilds is None else guilds,
            [FakeMember(CANDIDATE)] if members is None else members,
            bot=bot,
            owner=owner,
        )
        self.store = Store(self.world, self.ids)
        self.message_factory = MessageFactory(self.world, self.store, self.ids)
        self.gateway = FakeGateway(self.world, self.store, token)
        self.payloads = Payloads(self.world, self.store, self.ids, self.message_factory)
        self.backend = Backend(
            self.world, self.store, self.ids, self.message_factory, self.gateway,
            echo_own_messages=echo_own_messages, interaction_deadline=interaction_deadline,
        )
        self.rest_calls: list[RestCall] = []
        self.unknown_calls: list[RestCall] = []
        self.server_errors: list[str] = []
        self._failures: list[FailureRule] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """The value for discord.http.Route.BASE."""
        return f"{self.url}{API_PREFIX}"

    @property
    def gateway_url(self) -> str:
        """The websocket URL (also sent as resume_gateway_url)."""
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    async def start(self) -> None:
        """Listen on a random port."""
        app = web.Application(middlewares=[self._middleware])
        CoreApi(self.backend).register(app.router)
        InteractionApi(self.backend).register(app.router)
        CommandApi(self.backend).register(app.router)
        app.router.add_get(GATEWAY_PATH, self.gateway.handle)
        app.router.add_route("*", "/{tail:.*}", self._unknown)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        self.gateway.url = self.gateway_url

    async def close(self) -> None:
        """Close websockets and stop listening."""
        await self.gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- inspection

    def calls(self, path_contains: str | None = None, method: str | None = None) -> list[RestCall]:
        """Recorded REST calls, optionally filtered."""
        return [
            c for c in self.rest_calls
            if (path_contains is None or path_contains in c.path) and (method is None or c.method == method.upper())
        ]

    async def wait_for(self, predicate: Callable[[RestCall], bool], timeout: float = 5.0) -> RestCall:
        """The first recorded REST call matching predicate, polling until timeout."""
        return await poll_until(
            lambda: next((c for c in self.rest_calls if predicate(c)), None), timeout, "a REST call"
        )

    async def wait_until(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        """Poll until condition() is truthy."""
        await poll_until(lambda: True if condition() else None, timeout, "a condition")

    def messages(self, channel_id: int | None = None) -> list[StoredMessage]:
        """Messages the fake holds (bot, interaction, follow-up and user ones), oldest first."""
        return [m for m in self.store.messages.values() if channel_id is None or m.channel_id == channel_id]

    def callbacks(self, interaction_id: int | str | None = None, type: int | None = None) -> list[InteractionCallback]:
        """Interaction callbacks the bot made."""
        return [
            c for c in self.store.callbacks
            if (interaction_id is None or c.interaction_id == int(interaction_id)) and (type is None or c.type == type)
        ]

    async def wait_for_callback(
        self, interaction_id: int | str | None = None, type: int | None = None, timeout: float = 5.0
    ) -> InteractionCallback:
        """The first matching interaction callback, polling until timeout."""
        return await poll_until(
            lambda: next(iter(self.callbacks(interaction_id, type)), None), timeout, "an interaction callback"
        )

    def interaction(self, interaction_id: int | str) -> InteractionRecord:
        """What happened to a dispatched interaction."""
        return self.store.interactions[int(interaction_id)]

    # -- control

    def fail_next(
        self,
        method: str | None,
        path_contains: str,
        status: int = 500,
        *,
        retry_after: float = 0.1,
        times: int = 1,
        code: int = 0,
        message: str | None = None,
        is_global: bool = False,
    ) -> None:
        """Make the next matching request(s) fail; 429s carry retry_after, X-RateLimit-* and Via so clients retry."""
        self._failures.append(FailureRule(method, path_contains, status, retry_after, times, code, message, is_global))

    def close_dms(self, user_id: int) -> None:
        """The user stops accepting DMs: sends to their DM channel get 403 / 50007."""
        self.backend.closed_dms.add(user_id)

    async def send_interaction(self, payload: Json) -> Json:
        """Dispatch INTERACTION_CREATE; returns the payload."""
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return payload

    async def send_message_create(self, payload: Json) -> Json:
        """Dispatch MESSAGE_CREATE; returns the payload."""
        await self.gateway.dispatch("MESSAGE_CREATE", payload)
        return payload

    # -- plumbing

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Callable[[web.Request], Any]
    ) -> web.StreamResponse:
        if not request.path.startswith(API_PREFIX):
            passthrough: web.StreamResponse = await handler(request)
            return passthrough
        body, files = await read_body(request)
        request[BODY_KEY], request[FILES_KEY] = body, files
        headers = {k: v for k, v in request.headers.items() if k.lower() != "authorization"}
        path = request.path[len(API_PREFIX):]
        call = RestCall(request.method, path, body, headers, dict(request.query), [f["filename"] for f in files])
        bucket = hashlib.sha256(f"{request.method} {request.match_info.route.resource}".encode()).hexdigest()[:32]
        response: web.StreamResponse | None = self._unauthorized(request, path) or self._injected(call, bucket)
        if response is None:
            try:
                response = await handler(request)
            except Exception as exc:
                self.server_errors.append(f"{request.method} {path}: {exc!r}\n{traceback.format_exc()}")
                response = api_error(400, 0, f"fake discord could not handle this request: {exc!r}")
            if response.status != 429:
                response.headers.update(ratelimit_headers(bucket, 50, 49, 1.0))
        call.status = response.status
        self.rest_calls.append(call)
        return response

    def _unauthorized(self, request: web.Request, path: str) -> web.Response | None:
        if path.startswith(("/interactions/", "/webhooks/")):
            return None
        if request.headers.get("Authorization") != f"Bot {self.token}":
            return api_error(401, 0, "401: Unauthorized")
        return None

    def _injected(self, call: RestCall, bucket: str) -> web.Response | None:
        rule = next((r for r in self._failures if r.matches(call.method, call.path)), None)
        if rule is None:
            return None
        rule.times -= 1
        if rule.times <= 0:
            self._failures.remove(rule)
        if rule.status == 429:
            headers = ratelimit_headers(bucket, 5, 0, rule.retry_after) | {
                "Retry-After": str(math.ceil(rule.retry_after)),
                "X-RateLimit-Scope": "shared" if rule.is_global else "user",
            }
            if rule.is_global:
                headers["X-RateLimit-Global"] = "true"
            text = rule.message or "You are being rate limited."
            body = {"message": text, "retry_after": rule.retry_after, "global": rule.is_global}
            return json_response(body, 429, headers)
        return api_error(rule.status, rule.code, rule.message or f"{rule.status}: injected failure")

    async def _unknown(self, request: web.Request) -> web.Response:
        call = RestCall(request.method, request.path, request.get(BODY_KEY), {}, dict(request.query))
        self.unknown_calls.append(call)
        return api_error(404, 0, "Unknown")


@asynccontextmanager
async def running_fake_discord(
    guilds: Sequence[FakeGuild] | None = None, members: Sequence[FakeMember] | None = None, **options: Any
) -> AsyncIterator[FakeDiscord]:
    """Start a FakeDiscord; on a clean exit, fail if any handler crashed inside the fake."""
    fake = FakeDiscord(guilds, members, **options)
    await fake.start()
    try:
        yield fake
    finally:
        await fake.close()
    if fake.server_errors:
        raise AssertionError("the fake Discord failed to handle requests:\n" + "\n".join(fake.server_errors))


@contextmanager
def patched_discord_urls(fake: FakeDiscord) -> Iterator[None]:
    """Point discord.py's REST base and default gateway at the fake, restoring both afterwards."""
    route_base = discord.http.Route.BASE
    gateway = discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY
    discord.http.Route.BASE = fake.api_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(fake.gateway_url)
    try:
        yield
    finally:
        discord.http.Route.BASE = route_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = gateway


def default_intents() -> discord.Intents:
    """guilds + guild_messages + dm_messages (no privileged intents)."""
    return discord.Intents(guilds=True, guild_messages=True, dm_messages=True)


def make_client(
    cls: type[discord.Client] = discord.Client, *, intents: discord.Intents | None = None, **options: Any
) -> discord.Client:
    """A client tuned for the fake: no member chunking and a 0.1 s guild_ready_timeout."""
    options.setdefault("chunk_guilds_at_startup", False)
    options.setdefault("guild_ready_timeout", 0.1)
    return cls(intents=intents or default_intents(), **options)


async def _await_ready(client: discord.Client, connect: asyncio.Task[None], timeout: float) -> None:
    ready = asyncio.ensure_future(client.wait_until_ready())
    try:
        done, _ = await asyncio.wait({ready, connect}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        ready.cancel()
    if ready in done:
        return
    if connect in done:
        connect.result()  # re-raise the connection error
        raise RuntimeError("the gateway connection ended before READY")
    raise TimeoutError(f"client not ready after {timeout}s")


@asynccontextmanager
async def running_client(
    fake: FakeDiscord, client: discord.Client | None = None, *, ready_timeout: float = 5.0
) -> AsyncIterator[discord.Client]:
    """Log a real client in against the fake, connect, wait for on_ready; always close it afterwards."""
    client = client or make_client()
    with patched_discord_urls(fake):
        connect: asyncio.Task[None] | None = None
        try:
            await client.login(fake.token)
            connect = asyncio.create_task(client.connect(reconnect=False), name="fake-discord-client")
            await _await_ready(client, connect, ready_timeout)
            yield client
        finally:
            await client.close()
            if connect is not None:
                await asyncio.wait({connect}, timeout=5.0)
                if not connect.done():
                    connect.cancel()
                elif not connect.cancelled() and connect.exception() is not None:
                    exc = connect.exception()
                    if not isinstance(exc, discord.ConnectionClosed):
                        raise RuntimeError("the client's gateway task failed") from exc
