"""HTTP mode: `POST /slack/events` (events, slash commands, interactivity) into bolt, and `GET /healthz`.

The events route is our own aiohttp handler rather than `AsyncApp.web_app()`: it builds
the `AsyncBoltRequest` like bolt's adapter, then repairs one bolt 1.30 bug before
`async_dispatch`.  bolt's `parse_body` treats any form body containing the text
"payload" as an interactivity request and, finding no `payload=` field, parses it to
`{}` — so `/interview answer the payload is ...` was answered 404.  Such bodies are
parsed again as plain form fields (the signature is checked on the raw body either way).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.platforms.slack.app import SlackBot

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"


def repair_form_body(request: AsyncBoltRequest) -> None:
    """Re-parse a form body that bolt emptied because its text mentions "payload" (see the module doc)."""
    raw = request.raw_body
    if request.body or not raw or raw.lstrip().startswith("{"):
        return
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    if fields and "payload" not in fields:
        request.body = fields
        request.context = build_async_context(AsyncBoltContext({}), fields)


async def to_bolt_request(request: web.Request) -> AsyncBoltRequest:
    """The aiohttp request as bolt's, with the form-body repair applied."""
    collected: dict[str, list[str]] = {}
    for name, value in request.headers.items():
        collected.setdefault(name.lower(), []).append(value)
    headers: dict[str, str | Sequence[str]] = {name: values for name, values in collected.items()}
    bolt_request = AsyncBoltRequest(body=await request.text(), query=request.query_string, headers=headers)
    repair_form_body(bolt_request)
    return bolt_request


async def health(bot: SlackBot) -> dict[str, object]:
    """Whether the database answers and Slack accepted the bot token."""
    try:
        await bot.engine.db.schema_version()
        db = "ok"
    except Exception as exc:  # any failure means unhealthy; the reason goes to the log
        log.warning("health check: database failed error=%s", type(exc).__name__)
        db = "error"
    slack = "ok" if bot.identity.get("user_id") else "unauthenticated"
    return {"ok": db == "ok" and slack == "ok", "db": db, "slack": slack}


def web_app(bot: SlackBot, path: str = EVENTS_PATH) -> web.Application:
    """The aiohttp application of HTTP mode."""

    async def events(request: web.Request) -> web.Response:
        response = await bot.bolt.async_dispatch(await to_bolt_request(request))
        return await to_aiohttp_response(response)

    async def healthz(_request: web.Request) -> web.Response:
        state = await health(bot)
        return web.json_response(state, status=200 if state["ok"] else 503)

    app = web.Application()
    app.router.add_post(path, events)
    app.router.add_get(HEALTH_PATH, healthz)
    return app


@dataclass
class HttpServer:
    """A started HTTP server; `url` is its base (http://host:port)."""

    runner: web.AppRunner
    url: str
    closed: bool = False

    @property
    def connected(self) -> bool:
        """HTTP mode is "connected" while it listens."""
        return not self.closed

    async def close(self) -> None:
        """Stop accepting, let in-flight requests finish (briefly), release the port."""
        self.closed = True
        await self.runner.cleanup()


async def start_http(bot: SlackBot, host: str, port: int) -> HttpServer:
    """Serve HTTP mode on host:port (port 0 picks a free one; see `url`)."""
    runner = web.AppRunner(web_app(bot), shutdown_timeout=5.0, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except OSError:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    return HttpServer(runner, f"http://{bound_host}:{bound_port}")
