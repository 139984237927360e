"""A local fake of Slack (Web API, response_urls, Socket Mode) and builders for what Slack sends to an app.

The real slack_sdk / slack-bolt code runs against it; see /work/shared/PLATFORM-TESTING.md.

Wire facts this fake follows (from slack_sdk 3.48 / slack-bolt 1.30 sources):
- Web API calls are POST with a JSON body (``json=``: chat.*, views.*), a form body (``data=``) or only query
  parameters (``params=``: auth.test, conversations.open, apps.connections.open); users.info is a GET.
  The token travels in ``Authorization: Bearer``; arguments are the union of query, form and JSON.
- Socket Mode: ``apps.connections.open`` is called with the app-level token, the client opens the returned
  ws URL, the server says ``{"type": "hello"}``, pushes envelopes and reads ``{"envelope_id", "payload"?}`` acks.
  A ``{"type": "disconnect"}`` message makes the client fetch a new URL and reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode

import aiohttp
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

JSON_TYPE = "application/json"
FORM_TYPE = "application/x-www-form-urlencoded"
JSON_ARGS = frozenset({"blocks", "attachments", "view", "metadata", "unfurls"})

TEAM_ID = "T0FAKETEAM"
TEAM_NAME = "Fake Team"
APP_ID = "A0FAKEAPP"
BOT_ID = "B0FAKEBOT"
BOT_USER_ID = "U0FAKEBOT"
BOT_NAME = "interviewbot"
USER_ID = "U0ALICE"
CHANNEL_ID = "C0GENERAL"
VERIFICATION_TOKEN = "fake-verification-token"  # the deprecated per-app token Slack still puts in payloads


def _json_response(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A response whose Content-Type is exactly application/json."""
    return web.Response(body=json.dumps(data).encode(), status=status, headers=headers, content_type=JSON_TYPE)


def _decode_json_arg(value: Any) -> Any:
    """A JSON-valued argument as an object, whether it came in a JSON body or as a form string."""
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


@dataclass(frozen=True)
class Call:
    """One request the fake received, in arrival order (``at`` is time.monotonic())."""

    method: str
    args: dict[str, Any]
    token: str | None = field(repr=False)
    at: float
    error: str | None = None
    path: str = ""

    def arg(self, name: str, default: Any = None) -> Any:
        """An argument, with blocks/view/attachments decoded from JSON when they came form-encoded."""
        value = self.args.get(name, default)
        return _decode_json_arg(value) if name in JSON_ARGS else value


@dataclass(frozen=True)
class _Failure:
    """One injected failure."""

    error: str
    status: int
    retry_after: int
    text: bool = False  # a text body, as a proxy or an outage sends, instead of Slack's JSON


class _Recorder:
    """An ordered record with waiters that wake on every new entry."""

    def __init__(self) -> None:
        self.items: list[Any] = []
        self._changed = asyncio.Condition()

    async def add(self, item: Any) -> None:
        """Append and wake the waiters."""
        self.items.append(item)
        async with self._changed:
            self._changed.notify_all()

    async def wait(self, ready: Callable[[], Any], timeout: float) -> Any:
        """Wait (bounded) until ready() returns something truthy and return it."""
        async with asyncio.timeout(timeout), self._changed:
            return await self._changed.wait_for(ready)


class _Ids:
    """Slack-shaped identifiers: message timestamps, DM channels, views."""

    def __init__(self) -> None:
        self._ts = itertools.count(1)
        self._n = itertools.count(1)

    def ts(self) -> str:
        """A unique, increasing message timestamp like 1700000000.000100."""
        micros = next(self._ts) * 100
        return f"{1_700_000_000 + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def make(self, prefix: str) -> str:
        """A new id such as D0000001 or V0000002."""
        return f"{prefix}{next(self._n):07d}"


class FakeSocketModeServer:
    """The Socket Mode websocket side of the fake: hello, envelopes out, acks in."""

    def __init__(self, app_id: str = APP_ID) -> None:
        self.app_id = app_id
        self.connections = 0
        self.acks = _Recorder()
        self.received: list[dict[str, Any]] = []
        self._active: list[web.WebSocketResponse] = []
        self._connected = _Recorder()

    @property
    def connected(self) -> bool:
        """Whether a client is connected right now."""
        return any(not ws.closed for ws in self._active)

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """The /link endpoint: greet the client, then record what it sends until it leaves."""
        ws = web.WebSocketResponse(autoping=True, timeout=2.0)
        await ws.prepare(request)
        self.connections += 1
        self._active.append(ws)
        await ws.send_str(json.dumps(self._hello()))
        await self._connected.add(ws)
        try:
            async for msg in ws:
                if msg.type == aiohttp.WSMsgType.TEXT:
                    await self._receive(json.loads(msg.data))
        finally:
            self._active.remove(ws)
        return ws

    def _hello(self) -> dict[str, Any]:
        """The message Slack sends first on every new connection."""
        return {
            "type": "hello",
            "num_connections": len(self._active),
            "debug_info": {"host": "applink-fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": self.app_id},
        }

    async def _receive(self, message: dict[str, Any]) -> None:
        """Record an ack (anything with an envelope_id) or another client message."""
        if "envelope_id" in message:
            await self.acks.add(message)
        else:
            self.received.append(message)

    async def _current(self, timeout: float) -> web.WebSocketResponse:
        """The newest open connection, waiting (bounded) for one."""

        def newest() -> web.WebSocketResponse | None:
            open_ones = [ws for ws in self._active if not ws.closed]
            return open_ones[-1] if open_ones else None

        try:
            ws: web.WebSocketResponse = await self._connected.wait(newest, timeout)
        except TimeoutError:
            raise AssertionError(f"no Socket Mode client connected within {timeout}s") from None
        return ws

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait until `count` connections have been made in total (reconnects count) and one is open."""
        try:
            await self._connected.wait(lambda: self.connections >= count and self.connected, timeout)
        except TimeoutError:
            raise AssertionError(f"{self.connections} Socket Mode connection(s) after {timeout}s") from None

    async def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = 5.0,
    ) -> str:
        """Push an envelope (slash_commands / events_api / interactive) to the client; returns its envelope_id."""
        envelope_id = envelope_id or str(uuid.uuid4())
        if accepts_response_payload is None:
            accepts_response_payload = type == "slash_commands" or payload.get("type") == "view_submission"
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "payload": payload,
            "type": type,
            "accepts_response_payload": accepts_response_payload,
        }
        if type == "events_api":
            envelope["retry_attempt"] = retry_attempt or 0
            envelope["retry_reason"] = retry_reason or ""
        ws = await self._current(timeout)
        await ws.send_str(json.dumps(envelope))
        return envelope_id

    async def send_disconnect(self, reason: str = "refresh_requested", timeout: float = 5.0) -> None:
        """Tell the client to reconnect, as Slack does every few hours (reason: refresh_requested/warning)."""
        ws = await self._current(timeout)
        await ws.send_str(json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "applink-fake"}}))

    def ack_for(self, envelope_id: str) -> dict[str, Any] | None:
        """The client's ack for an envelope, if it has arrived."""
        return next((a for a in self.acks.items if a["envelope_id"] == envelope_id), None)

    async def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """Wait (bounded) for the ack of an envelope: ``{"envelope_id", "payload"?}``."""
        try:
            ack: dict[str, Any] = await self.acks.wait(lambda: self.ack_for(envelope_id), timeout)
        except TimeoutError:
            raise AssertionError(f"no ack for envelope {envelope_id} within {timeout}s") from None
        return ack

    async def close(self) -> None:
        """Close every open connection (close the client first, or it reconnects)."""
        for ws in list(self._active):
            await ws.close(code=aiohttp.WSCloseCode.GOING_AWAY, message=b"fake slack closing")


class FakeSlackAPI:
    """The Slack Web API on 127.0.0.1, recording every call; use with AsyncWebClient(base_url=fake.api_url)."""

    def __init__(
        self,
        *,
        team_id: str = TEAM_ID,
        bot_user_id: str = BOT_USER_ID,
        bot_id: str = BOT_ID,
        app_id: str = APP_ID,
        strict_users: bool = False,
    ) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.strict_users = strict_users
        self.bare_answers = False
        self.users: dict[str, dict[str, Any]] = {}
        self.socket = FakeSocketModeServer(app_id)
        self._record = _Recorder()
        self._failures: dict[str, deque[_Failure]] = {}
        self._ids = _Ids()
        self._dms: dict[str, str] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.publish": self._views_publish,
            "views.update": self._views_update,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "apps.connections.open": self._apps_connections_open,
        }

    # lifecycle -------------------------------------------------------------

    async def start(self) -> Self:
        """Listen on a random port of 127.0.0.1."""
        if self._runner is not None:
            return self
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response_url/{id}", self._handle_response_url)
        app.router.add_get("/link", self.socket.handle)
        app.router.add_get("/link/", self.socket.handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def close(self) -> None:
        """Close Socket Mode connections and stop the server."""
        if self._runner is None:
            return
        await self.socket.close()
        await self._runner.cleanup()
        self._runner = None

    async def __aenter__(self) -> Self:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def api_url(self) -> str:
        """The base_url for AsyncWebClient (ends with a slash: slack_sdk joins with urljoin)."""
        return f"{self.url}/api/"

    # test controls ---------------------------------------------------------

    def add_user(self, user_id: str, name: str | None = None, *, is_admin: bool = False, **extra: Any) -> None:
        """Register a user for users.info (is_admin / is_owner / real_name / tz ... may be given)."""
        self.users[user_id] = {"name": name or user_id.lower(), "is_admin": is_admin, **extra}

    def fail_next(
        self,
        method: str,
        error: str = "ratelimited",
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
        text: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail: HTTP 429 + Retry-After for ratelimited, else ok=false;
        `text` answers with a plain-text body (the error as its text) instead of JSON."""
        code = status if status is not None else (429 if error == "ratelimited" else 200)
        queue = self._failures.setdefault(method, deque())
        queue.extend(_Failure(error, code, retry_after, text) for _ in range(times))

    def response_url(self) -> str:
        """A new response_url on the fake (calls to it are recorded with method "response_url")."""
        return f"{self.url}/response_url/{uuid.uuid4().hex}"

    # inspection ------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every recorded call, or those of one method, in order."""
        items: list[Call] = self._record.items
        return [c for c in items if method is None or c.method == method]

    def last(self, method: str) -> Call:
        """The most recent call of a method (AssertionError if there is none)."""
        found = self.calls(method)
        if not found:
            raise AssertionError(f"no {method} call; methods called: {self._methods()}")
        return found[-1]

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        count: int = 1,
        timeout: float = 5.0,
    ) -> Call:
        """Wait (bounded) until `count` calls of `method` match `predicate`; returns the count-th match."""

        def matched() -> Call | None:
            found = [c for c in self.calls(method) if predicate is None or predicate(c)]
            return found[count - 1] if len(found) >= count else None

        try:
            call: Call = await self._record.wait(matched, timeout)
        except TimeoutError:
            raise AssertionError(
                f"fewer than {count} matching {method} call(s) within {timeout}s; methods called: {self._methods()}"
            ) from None
        return call

    def _methods(self) -> list[str]:
        """Method names called so far (never tokens or arguments)."""
        return [c.method for c in self.calls()]

    # HTTP handlers ---------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        """POST/GET /api/<method>: parse, record, answer like Slack."""
        method = request.match_info["method"]
        args = await self._read_args(request)
        token = self._bearer(request) or args.pop("token", None)
        failures = self._failures.get(method)
        failure = failures.popleft() if failures else None
        if failure is not None:
            await self._add(Call(method, args, token, time.monotonic(), failure.error, request.path))
            return self._failure_response(failure)
        if token is None and method != "api.test":
            await self._add(Call(method, args, token, time.monotonic(), "not_authed", request.path))
            return _json_response({"ok": False, "error": "not_authed"})
        result = self._answer(method, args, token)
        await self._add(Call(method, args, token, time.monotonic(), result.get("error"), request.path))
        return _json_response(result)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        """POST /response_url/<id>: what respond() and webhook clients send."""
        raw = await request.read()
        args: dict[str, Any] = json.loads(raw) if raw else {}
        await self._add(Call("response_url", args, None, time.monotonic(), None, request.path))
        return _json_response({"ok": True})

    async def _add(self, call: Call) -> None:
        """Record a call and wake the waiters."""
        await self._record.add(call)

    @staticmethod
    async def _read_args(request: web.Request) -> dict[str, Any]:
        """Query parameters, then a form or JSON body, merged."""
        args: dict[str, Any] = dict(request.query)
        if not request.can_read_body:
            return args
        if request.content_type == JSON_TYPE:
            args.update(await request.json())
        else:
            form = await request.post()
            for key, value in form.items():
                args[key] = value if isinstance(value, str) else getattr(value, "filename", repr(value))
        return args

    @staticmethod
    def _bearer(request: web.Request) -> str | None:
        """The token from the Authorization header."""
        auth = request.headers.get("Authorization", "")
        return auth[len("Bearer ") :] if auth.startswith("Bearer ") else None

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        """The injected failure, as Slack sends it."""
        if failure.text:
            return web.Response(text=failure.error, status=failure.status)
        body = {"ok": False, "error": failure.error}
        if failure.status == 429:
            return _json_response(body, status=429, headers={"Retry-After": str(failure.retry_after)})
        return _json_response(body, status=failure.status)

    def _answer(self, method: str, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        """The success (or validation error) body of a method; unknown methods just say ok."""
        if method == "apps.connections.open" and not (token or "").startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        handler = self._handlers.get(method)
        if self.bare_answers and method not in ("auth.test", "apps.connections.open"):
            return {"ok": True}  # a minimal stand-in for Slack: no ts, no channel, no user in any answer
        return handler(args) if handler is not None else {"ok": True}

    # method bodies ---------------------------------------------------------

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """auth.test for the bot token."""
        return {
            "ok": True,
            "url": "https://fake-team.slack.com/",
            "team": TEAM_NAME,
            "user": BOT_NAME,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "bot_user_id": self.bot_user_id,
            "is_enterprise_install": False,
        }

    def _channel(self, channel: str) -> str:
        """Posting to a user id goes to the DM with that user, as on Slack."""
        return self._dm(channel) if channel[:1] in ("U", "W") else channel

    def _dm(self, user_id: str) -> str:
        """The stable DM channel id of a user."""
        return self._dms.setdefault(user_id, self._ids.make("D"))

    def _message(self, args: dict[str, Any], ts: str) -> dict[str, Any]:
        """The message object Slack echoes back."""
        message: dict[str, Any] = {
            "type": "message",
            "text": args.get("text", ""),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata"):
            if key in args:
                message[key] = _decode_json_arg(args[key])
        if "thread_ts" in args:
            message["thread_ts"] = args["thread_ts"]
        return message

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.postMessage: a new unique ts."""
        if not args.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not any(args.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._ids.ts()
        return {"ok": True, "channel": self._channel(args["channel"]), "ts": ts, "message": self._message(args, ts)}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.postEphemeral: only a message_ts."""
        if not args.get("channel") or not args.get("user"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "message_ts": self._ids.ts()}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.update: same channel and ts."""
        if not args.get("channel") or not args.get("ts"):
            return {"ok": False, "error": "invalid_arguments"}
        ts = str(args["ts"])
        message = self._message(args, ts)
        return {"ok": True, "channel": args["channel"], "ts": ts, "text": message["text"], "message": message}

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """chat.delete: echo channel and ts."""
        return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}

    def _view(self, args: dict[str, Any], view_id: str | None = None) -> dict[str, Any]:
        """The view object Slack returns: the submitted view plus ids and state."""
        submitted = _decode_json_arg(args.get("view")) or {}
        view_id = view_id or self._ids.make("V")
        view = {
            "id": view_id,
            "team_id": self.team_id,
            "app_id": self.app_id,
            "bot_id": self.bot_id,
            "root_view_id": view_id,
            "previous_view_id": None,
            "hash": f"{time.time():.6f}.{uuid.uuid4().hex[:8]}",
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            **submitted,
        }
        self._views[view_id] = view
        return view

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.open / views.push: need a trigger (or interactivity pointer) and a view."""
        if not (args.get("trigger_id") or args.get("interactivity_pointer")) or not args.get("view"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(args)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.publish: the Home tab of a user."""
        if not args.get("user_id") or not args.get("view"):
            return {"ok": False, "error": "invalid_arguments"}
        return {"ok": True, "view": self._view(args)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """views.update: by view_id (or external_id) of a view the fake handed out."""
        external_id = args.get("external_id")
        by_external = (vid for vid, v in self._views.items() if external_id and v["external_id"] == external_id)
        view_id = args.get("view_id") or next(by_external, None)
        if not args.get("view") or view_id not in self._views:
            return {"ok": False, "error": "not_found"}
        return {"ok": True, "view": self._view(args, view_id)}

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """conversations.open: one stable D... channel per user."""
        users = str(args.get("users") or "")
        if args.get("channel"):
            return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": args["channel"]}}
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        already = users in self._dms
        return {"ok": True, "no_op": already, "already_open": already, "channel": {"id": self._dm(users)}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """users.info from `users` (unknown ids become plain members unless strict_users)."""
        user_id = str(args.get("user") or "")
        if user_id not in self.users and (self.strict_users or not user_id):
            return {"ok": False, "error": "user_not_found"}
        given = self.users.get(user_id, {})
        name = given.get("name", user_id.lower())
        real_name = given.get("real_name", name.title())
        profile = {"display_name": given.get("display_name", name), "real_name": real_name, **given.get("profile", {})}
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_bot": False,
            "is_admin": False,
            "is_owner": False,
            "tz": "UTC",
            "tz_offset": 0,
            **{k: v for k, v in given.items() if k not in ("name", "real_name", "display_name", "profile")},
            "profile": profile,
        }
        return {"ok": True, "user": user}

    def _apps_connections_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """apps.connections.open: a ws URL of this fake's Socket Mode endpoint."""
        ws_base = self.url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{ws_base}/link/?ticket={uuid.uuid4()}&app_id={self.app_id}"}


async def start_fake_slack(**options: Any) -> FakeSlackAPI:
    """A started FakeSlackAPI (``await fake.close()`` when done, or use it as ``async with``)."""
    return await FakeSlackAPI(**options).start()


# requests Slack sends to an app ---------------------------------------------------------------------------


class SlackRequest(NamedTuple):
    """A raw request body and its Content-Type, as Slack would POST it."""

    body: bytes
    content_type: str


def _trigger_id() -> str:
    """A trigger_id shaped like Slack's."""
    return f"{int(time.time())}.{uuid.uuid4().int % 10**13}.{uuid.uuid4().hex}"


def slash_command_payload(
    text: str,
    *,
    user_id: str = USER_ID,
    user_name: str = "alice",
    channel_id: str = CHANNEL_ID,
    channel_name: str = "general",
    team_id: str = TEAM_ID,
    command: str = "/interview",
    response_url: str = "https://hooks.slack.com/commands/T0FAKETEAM/1/fake",
    trigger_id: str | None = None,
    api_app_id: str = APP_ID,
) -> dict[str, str]:
    """The fields of a slash command (all strings; the Socket Mode payload is the same dict)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": "fake-team",
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or _trigger_id(),
    }


def slash_command(text: str, **fields: Any) -> SlackRequest:
    """A slash command over HTTP: form-encoded fields."""
    return SlackRequest(urlencode(slash_command_payload(text, **fields)).encode(), FORM_TYPE)


def event_callback_payload(
    event: dict[str, Any],
    *,
    event_id: str | None = None,
    team_id: str = TEAM_ID,
    api_app_id: str = APP_ID,
    bot_user_id: str = BOT_USER_ID,
) -> dict[str, Any]:
    """An Events API envelope around `event` (the Socket Mode events_api payload is the same dict)."""
    return {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": f"4-{uuid.uuid4().hex}",
    }


def event_callback(event: dict[str, Any], **fields: Any) -> SlackRequest:
    """An Events API request over HTTP: a JSON body."""
    return SlackRequest(json.dumps(event_callback_payload(event, **fields)).encode(), JSON_TYPE)


def im_message_event(text: str, *, user_id: str = USER_ID, channel_id: str = "D0ALICE", **extra: Any) -> dict[str, Any]:
    """A message.im event (a user writing to the bot in its DM)."""
    ts = f"{time.time():.6f}"
    return {
        "type": "message",
        "channel_type": "im",
        "channel": channel_id,
        "user": user_id,
        "text": text,
        "ts": ts,
        "event_ts": ts,
        "team": TEAM_ID,
        **extra,
    }


def _user(user_id: str, team_id: str) -> dict[str, str]:
    """The user object of interaction payloads."""
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": team_id}


def block_actions_payload(
    action_id: str,
    value: str,
    user_id: str = USER_ID,
    channel_id: str = CHANNEL_ID,
    *,
    message_ts: str = "1700000000.000100",
    trigger_id: str | None = None,
    container: dict[str, Any] | None = None,
    block_id: str = "actions",
    team_id: str = TEAM_ID,
    response_url: str = "https://hooks.slack.com/actions/T0FAKETEAM/1/fake",
) -> dict[str, Any]:
    """A block_actions payload for a button click in a message."""
    action_ts = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": container
        or {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "trigger_id": trigger_id or _trigger_id(),
        "team": {"id": team_id, "domain": "fake-team"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel_id, "name": "general"},
        "message": {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "ts": message_ts, "text": ""},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": {"type": "plain_text", "text": value, "emoji": True},
                "value": value,
                "type": "button",
                "action_ts": action_ts,
            }
        ],
    }


def block_actions(
    action_id: str, value: str, user_id: str = USER_ID, channel_id: str = CHANNEL_ID, **fields: Any
) -> SlackRequest:
    """block_actions over HTTP: form field payload=<JSON>."""
    return _payload_form(block_actions_payload(action_id, value, user_id, channel_id, **fields))


def view_submission_payload(
    callback_id: str,
    private_metadata: str,
    values: dict[str, Any],
    user_id: str = USER_ID,
    *,
    view_id: str = "V0FAKEVIEW",
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """A view_submission payload; `values` is view.state.values ({block_id: {action_id: {type, value}}})."""
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": "fake-team"},
        "user": _user(user_id, team_id),
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": _trigger_id(),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "blocks": [],
            "private_metadata": private_metadata,
            "callback_id": callback_id,
            "state": {"values": values},
            "hash": f"{time.time():.6f}.fakehash",
            "title": {"type": "plain_text", "text": "Interview"},
            "root_view_id": view_id,
            "previous_view_id": None,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "external_id": "",
        },
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_submission(
    callback_id: str, private_metadata: str, values: dict[str, Any], user_id: str = USER_ID, **fields: Any
) -> SlackRequest:
    """view_submission over HTTP: form field payload=<JSON>."""
    return _payload_form(view_submission_payload(callback_id, private_metadata, values, user_id, **fields))


def _payload_form(payload: dict[str, Any]) -> SlackRequest:
    """Interactivity requests: one form field, payload, holding JSON."""
    return SlackRequest(urlencode({"payload": json.dumps(payload)}).encode(), FORM_TYPE)


def signed_headers(
    body: bytes,
    secret: str,
    timestamp: int | None = None,
    retry_num: int | None = None,
    *,
    retry_reason: str = "http_timeout",
    content_type: str | None = None,
) -> dict[str, str]:
    """X-Slack-Request-Timestamp and X-Slack-Signature (wall clock by default: bolt checks against time.time())."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    headers = {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature or ""}
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


class Delivered(NamedTuple):
    """The app's HTTP answer to a delivered request."""

    status: int
    body: str
    content_type: str


async def deliver(
    url: str, request: SlackRequest, secret: str, *, timestamp: int | None = None, retry_num: int | None = None
) -> Delivered:
    """POST a signed request to an app the way Slack does, and return its answer."""
    headers = signed_headers(request.body, secret, timestamp, retry_num, content_type=request.content_type)
    async with aiohttp.ClientSession() as session, session.post(url, data=request.body, headers=headers) as resp:
        return Delivered(resp.status, await resp.text(), resp.content_type)


@contextlib.asynccontextmanager
async def serve_web_app(app: web.Application) -> AsyncIterator[str]:
    """Serve an aiohttp app (e.g. bolt's app.web_app()) on a random 127.0.0.1 port; yields its base URL."""
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()
