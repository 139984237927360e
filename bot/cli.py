"""Argument parsing and the subcommands that run without a chat platform.

Errors people can fix (a bad option value, an unknown section or question id, an
unwritable database path) print one line and exit with code 2 or 1, never a traceback.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn, TextIO

from bot import loop as event_loop
from bot.config import MAX_MINUTES, Settings, SettingsError, load_settings
from bot.logs import setup_logging
from bot.storage.db import StorageError

log = logging.getLogger(__name__)

EXIT_USAGE = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse that reports a bad argument in one line, naming the valid choices."""

    def error(self, message: str) -> NoReturn:
        message = message.replace("'", "")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


class SubcommandParser(OneLineParser):
    """A subcommand's parser: an argument it does not know is reported under the subcommand's own name
    ("interview-bot drill: error: unrecognized arguments: --bogus"), not the program's, which argparse
    does when it leaves the leftovers to the top-level parser."""

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        return parsed, extras


class UsageError(Exception):
    """A value the person typed is not valid; printed as one line with exit code 2."""


Handler = Callable[[argparse.Namespace, Settings], int]


def _default_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "me"


def person_name(given: str | None) -> str:
    """The --user name (else the OS user) as text the database takes: a byte that is not UTF-8 in a
    command-line argument or login name arrives as a lone surrogate, which SQLite refuses; it becomes U+FFFD."""
    name = given or _default_user()
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def build_parser() -> OneLineParser:
    """The whole command line, subcommands from platform and deployment modules included."""
    _load_plugins()
    parser = OneLineParser(
        prog="interview-bot",
        description="Mock Transformer interviews in the terminal, Slack and Discord.",
    )
    _add_global_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=SubcommandParser)

    drill = sub.add_parser("drill", help="a mock interview in the terminal")
    drill.add_argument(
        "action", nargs="?", type=_drill_action_arg, metavar="N|stop|status",
        help="number of questions (as --count), or stop / show the unfinished drill",
    )
    drill.add_argument("--count", type=_positive_int, default=None, help="number of questions (default 5)")
    drill.add_argument("--section", help="only this section (1-4)")
    drill.add_argument("--tag", help="only questions with this tag")
    drill.add_argument("--lang", choices=["zh", "en"], default=None,
                       help="language (default: your last choice, else zh)")
    drill.add_argument("--minutes", type=_positive_float, default=None, help="minutes per question (default 5)")
    drill.add_argument("--user", default=None, help="your name (default: the OS user)")
    drill.add_argument("--self-grade", action="store_true", help="rate yourself instead of the automatic grader")
    drill.add_argument("--resume", action="store_true", help="continue your unfinished drill")
    drill.add_argument("--new", action="store_true", help="end an unfinished drill and start a new one")

    review = sub.add_parser("review", help="a terminal drill of the questions due for review")
    review.add_argument("--count", type=_positive_int, default=None, help="at most this many questions")
    review.add_argument("--lang", choices=["zh", "en"], default=None, help="language (default: your last choice)")
    review.add_argument("--minutes", type=_positive_float, default=None, help="minutes per question (default 5)")
    review.add_argument("--user", default=None, help="your name (default: the OS user)")

    report = sub.add_parser("report", help="show a finished drill's report again")
    report.add_argument(
        "number", nargs="?", type=_positive_int, metavar="N",
        help="your drill number, as its report shows it (default: the latest)",
    )
    report.add_argument("--answers", action="store_true", help="include the reference answers")
    report.add_argument("--user", default=None, help="your name (default: the OS user)")
    report.add_argument("--lang", choices=["zh", "en"], default=None, help="language (default: your last choice)")

    grade = sub.add_parser("grade", help="grade a reply read from standard input, or a batch file")
    # one or the other: a question id with --batch would silently ignore the id and standard input
    grade_input = grade.add_mutually_exclusive_group()
    grade_input.add_argument("qid", nargs="?", help="question id, e.g. 1.4")
    grade_input.add_argument(
        "--batch", type=Path, metavar="FILE", help="JSON lines {qid, reply}, - = stdin; one JSON result per input line"
    )

    bank = sub.add_parser("bank", help="list, show and validate the question bank")
    bank_sub = bank.add_subparsers(dest="bank_command", metavar="ACTION", parser_class=SubcommandParser, required=True)
    blist = bank_sub.add_parser("list", help="list questions")
    blist.add_argument("--section", help="only this section (1-4)")
    blist.add_argument("--tag", help="only questions with this tag")
    blist.add_argument("--lang", choices=["zh", "en"], default=None,
                       help="language of the question texts (default: the lang setting or INTERVIEW_BOT_LANG, else zh)")
    blist.add_argument("--json", action="store_true", help="one JSON array with every field")
    bshow = bank_sub.add_parser("show", help="show one question")
    bshow.add_argument("qid", help="question id, e.g. 1.4 (an alias such as 5.1 shows the question it stands for)")
    bshow.add_argument("--lang", choices=["zh", "en", "both"], default="both",
                       help="language of the texts (default: both, labelled in the lang setting's language)")
    bval = bank_sub.add_parser("validate", help="check bank files and report every problem")
    bval.add_argument("paths", nargs="*", type=Path, help="files or folders (default: the built-in bank)")

    db = sub.add_parser("db", help="database care")
    db_sub = db.add_subparsers(dest="db_command", metavar="ACTION", parser_class=SubcommandParser, required=True)
    db_sub.add_parser("migrate", help="apply pending migrations")
    db_sub.add_parser("check", help="integrity check and schema version")
    backup = db_sub.add_parser("backup", help="online backup, safe while the bot runs")
    backup.add_argument("path", type=Path, help="new file to write the copy to (an existing file is never replaced)")

    for extra in _EXTRA_PARSERS:
        extra(sub)
    _global_options_everywhere(parser)
    return parser


def _add_global_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument("--config", type=Path, default=default, help="TOML settings file")
    parser.add_argument("--db", type=Path, default=default, help="SQLite database path (env INTERVIEW_BOT_DB)")
    parser.add_argument("--log-format", choices=["plain", "json"], default=default, help="log line format")
    parser.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], default=default,
                        help="log level")


def _global_options_everywhere(parser: argparse.ArgumentParser) -> None:
    """Accept --config, --db, --log-format and --log-level after any subcommand too (`run --log-format json`,
    `db backup x.sqlite3 --db bot.sqlite3`), as people type them; given there, they win over the same
    option before the subcommand is named."""
    for action in parser._subparsers._group_actions if parser._subparsers else ():
        for child in getattr(action, "choices", {}).values():
            _add_global_options(child, default=argparse.SUPPRESS)
            _global_options_everywhere(child)


_EXTRA_PARSERS: list[Callable[[Any], None]] = []
_HANDLERS: dict[str, Handler] = {}


def subcommand(name: str, add_parser: Callable[[Any], None]) -> Callable[[Handler], Handler]:
    """Register a subcommand from another module (platform adapters, deployment)."""

    def wrap(fn: Handler) -> Handler:
        _EXTRA_PARSERS.append(add_parser)
        _HANDLERS[name] = fn
        return fn

    return wrap


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def _drill_action_arg(text: str) -> str | int:
    """`drill 3` as in the chat platforms (the number of questions), or `drill stop` / `drill status`."""
    word = text.strip().lower()
    if word in ("stop", "status"):
        return word
    try:
        int(word)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of questions, stop or status, not {text}") from None
    return _positive_int(word)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of minutes, not {text}") from None
    if not 0 < value <= MAX_MINUTES:  # also refuses nan and inf, which no deadline can be built from
        raise argparse.ArgumentTypeError(f"must be more than 0 and at most {MAX_MINUTES:g} minutes, not {text}")
    return value


def settings_from(args: argparse.Namespace, environ: dict[str, str] | None = None) -> Settings:
    return load_settings(
        config_file=args.config,
        environ=os.environ if environ is None else environ,
        flags={"db_path": args.db, "log_format": args.log_format, "log_level": args.log_level},
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `interview-bot` script."""
    try:
        return _main(argv)
    except BrokenPipeError:
        # the reader went away (`interview-bot bank list | head`): stop quietly, as a Unix tool does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for such a pipeline


def _forgiving_streams() -> None:
    """Never fail on text the terminal's encoding cannot carry, and never lose data written to a file.

    An undecodable byte typed in an answer (a GBK terminal on a UTF-8 locale) becomes U+FFFD instead of a
    lone surrogate the database refuses.  Output to a file or pipe (`export > me.json`, `grade --batch`) is
    written as UTF-8 whatever the locale says, so nothing is replaced; only a terminal that cannot show a
    character gets '?' for it instead of a traceback.
    """
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is None:
            continue
        if stream is not sys.stdin and not stream.isatty() and not _is_utf(stream.encoding):
            reconfigure(encoding="utf-8")
        else:
            reconfigure(errors="replace")


def _is_utf(encoding: str | None) -> bool:
    return (encoding or "").lower().replace("-", "").replace("_", "") in ("utf8", "utf8sig")


def _main(argv: Sequence[str] | None) -> int:
    _forgiving_streams()
    _load_plugins()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return EXIT_USAGE
    try:
        settings = settings_from(args)
    except SettingsError as exc:
        print(f"interview-bot: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    setup_logging(
        settings.log_format,
        settings.log_level if args.log_level else "WARNING" if args.command in _QUIET else settings.log_level,
        secrets=_secrets(settings),
    )
    handler = _HANDLERS.get(args.command) or _BUILTIN[args.command]
    try:
        return handler(args, settings)
    except (UsageError, SettingsError) as exc:
        print(f"interview-bot {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except StorageError as exc:
        print(f"interview-bot: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


_QUIET = {"drill", "review", "report", "grade", "bank", "db"}


def _secrets(settings: Settings) -> list[str]:
    return [
        s
        for s in (
            settings.discord_token,
            settings.slack_bot_token,
            settings.slack_app_token,
            settings.slack_signing_secret,
        )
        if s
    ]


def _load_plugins() -> None:
    """Import modules that register subcommands (kept lazy so the terminal drill starts fast)."""
    import importlib

    for module in ("bot.platforms.slack.cli", "bot.platforms.discord.cli", "bot.runner", "bot.people"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not exc.name or not module.startswith(exc.name):
                raise  # a real missing dependency inside the module, not an absent plugin


# -- built-in subcommands -------------------------------------------------------------------------


def _load_bank(settings: Settings) -> Any:
    from bot.app import load_bank_for

    return load_bank_for(settings)


def _scope(bank: Any, section: str | None, tag: str | None) -> Any:
    from bot.engine.selection import ScopeError, parse_scope

    try:
        return parse_scope(bank, section, tag)
    except ScopeError as exc:
        raise UsageError(f"unknown {exc.key} {exc.value}; valid choices: {', '.join(exc.valid)}") from None


def cmd_drill(args: argparse.Namespace, settings: Settings, *, review: bool = False) -> int:
    from bot.app import build_app
    from bot.platforms.console.drill import ConsoleDrillArgs, run_console_drill

    bank = _load_bank(settings)
    scope = _scope(bank, getattr(args, "section", None), getattr(args, "tag", None))
    lang = args.lang or settings.lang  # until the person's own choice is read (see _console_lang)
    user = person_name(args.user)
    action = getattr(args, "action", None)
    count = args.count
    if isinstance(action, int):
        if count is not None and count != action:
            raise UsageError(f"two numbers of questions: {action} and --count {count}; give one")
        count, action = action, None
    if getattr(args, "resume", False) and getattr(args, "new", False):
        raise UsageError("--resume continues the unfinished drill and --new ends it; give one")

    if action in ("stop", "status") and not settings.db_path.exists() and not args.lang:  # nothing to show
        from bot.i18n import t

        print(t("drill.none_active", lang))
        return 1

    async def go() -> int:
        nonlocal lang
        app = await build_app(settings, bank=bank)
        try:
            lang = await _console_lang(app, user, args.lang)
            if action in ("stop", "status"):
                return await _drill_action(app, action, user, lang)
            console_args = ConsoleDrillArgs(
                user=user,
                count=count or settings.drill_count,
                scope=scope,
                lang=lang,
                minutes=args.minutes or settings.drill_minutes,
                minutes_given=args.minutes is not None,
                self_grade=getattr(args, "self_grade", False),
                resume=getattr(args, "resume", False),
                new=getattr(args, "new", False),
                review=review,
            )
            return await run_console_drill(app, console_args)
        finally:
            await app.close()

    try:
        return event_loop.run(go())
    except KeyboardInterrupt:
        from bot.i18n import t

        print("\n" + t("console.interrupted", lang), file=sys.stdout)
        return 130


async def _console_lang(app: Any, user: str, given: str | None) -> str:
    """The terminal's language: `--lang` when given (and remembered as the person's choice, as `lang` does in a
    DM, so every message of the engine follows it), else the person's earlier choice, else the setting."""
    row = await app.store.find_user("console", user)  # a command that only reads creates nobody
    if given:
        if row is None:  # a choice to remember needs the person
            row = await app.store.ensure_user("console", user, user, app.clock.now())
        drill = await app.store.active_drill(row.id)
        if row.lang != given or (drill is not None and drill.lang != given):
            await app.store.set_user_lang(row.id, given)  # a drill in progress follows it too
        return given
    return str((row.lang if row is not None else None) or app.settings.lang)


async def _drill_action(app: Any, action: str, user: str, lang: str) -> int:
    from bot.engine.drills import DrillError
    from bot.platforms.base import UserRef
    from bot.platforms.console.render import render_text
    from handlers.views import render

    ref = UserRef("console", user, user)
    try:
        if action == "status":
            print(render_text(render(await app.drills.status(ref))))
        else:
            for item in await app.drills.stop(ref):
                print(render_text(render(item.event)))
    except DrillError as exc:
        print(render_text(render(exc.notice)))
        return 1
    return 0


def cmd_review(args: argparse.Namespace, settings: Settings) -> int:
    return cmd_drill(args, settings, review=True)


def cmd_report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.app import build_app
    from bot.engine.drills import DrillError
    from bot.platforms.base import UserRef
    from bot.platforms.console.render import render_text
    from handlers.views import render

    user = person_name(args.user)
    if not settings.db_path.exists() and not args.lang:  # nothing recorded, no choice to remember: create nothing
        from bot.i18n import t

        print(t("report.none", args.lang or settings.lang))
        return 1

    async def go() -> int:
        app = await build_app(settings)
        try:
            lang = await _console_lang(app, user, args.lang)
            report = await app.drills.report(UserRef("console", user, user), args.number, with_answers=args.answers)
            if report.lang != lang:
                from dataclasses import replace

                report = replace(report, lang=lang)
            print(render_text(render(report)))
            return 0
        except DrillError as exc:
            print(render_text(render(exc.notice)))
            return 1
        finally:
            await app.close()

    return event_loop.run(go())


def cmd_grade(args: argparse.Namespace, settings: Settings) -> int:
    from bot.grading.cli import run_batch, run_single

    bank = _load_bank(settings)
    if args.batch is not None:
        return run_batch(bank, args.batch, sys.stdout)
    if not args.qid:
        raise UsageError("give a question id (interview-bot grade 1.4 < reply.txt) or --batch FILE")
    return run_single(bank, args.qid, sys.stdin.read(), sys.stdout)


def cmd_bank(args: argparse.Namespace, settings: Settings) -> int:
    """`bank list|show|validate`.  `list` checks --section and --tag with drill's own code, so a tag is
    matched and refused exactly as `drill --tag` does; `list` defaults to the lang setting as drill does (there
    is no person here, so no remembered choice), and `show` to both languages, labelled in that one."""
    from question_bank import cli as bank_cli

    if args.bank_command == "validate":
        return bank_cli.validate(args.paths, settings.bank_paths, sys.stdout)
    bank = _load_bank(settings)
    lang = args.lang or settings.lang
    if args.bank_command == "show":
        return bank_cli.show(bank, args.qid, lang, settings.lang, sys.stdout)
    try:
        scope = _scope(bank, args.section, args.tag)
    except UsageError as exc:
        print(f"interview-bot bank list: error: {exc}", file=sys.stderr)  # named as argparse names a subcommand
        return EXIT_USAGE
    return bank_cli.list_questions(bank, scope.section, scope.tag, lang, args.json, sys.stdout)


def cmd_db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.storage import maintenance

    return event_loop.run(maintenance.run(args.db_command, settings.db_path, getattr(args, "path", None), sys.stdout))


_BUILTIN: dict[str, Handler] = {
    "drill": cmd_drill,
    "review": cmd_review,
    "report": cmd_report,
    "grade": cmd_grade,
    "bank": cmd_bank,
    "db": cmd_db,
}


def print_json(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")
