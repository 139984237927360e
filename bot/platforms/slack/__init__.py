"""The Slack adapter: slack-bolt AsyncApp listeners, Block Kit rendering and a Messenger over the Web API.

Everything Slack-specific stays in this package; the engine and handlers see only
neutral Commands and Replies (see `bot.platforms.base`).
"""

PLATFORM = "slack"
