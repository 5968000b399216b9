"""The ``ennio`` application: global options, the command groups, and error reporting."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from ennio import __version__
from ennio.cli.output import show_help_when_bare
from ennio.cli.state import state

#: Every command: name -> (module, attribute, whether it is a group). Only the module of the command
#: being run is imported, and only its typer command is built: building all of them costs tens of
#: milliseconds that `ennio status` cannot spare (`--help` and unknown commands build them all).
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "init": ("ennio.cli.init_cmd", "init", False),
    "status": ("ennio.cli.sessions_cmd", "status", False),
    "events": ("ennio.cli.events_cmd", "events", False),
    "doctor": ("ennio.cli.doctor_cmd", "doctor", False),
    "config": ("ennio.cli.config_cmd", "app", True),
    "session": ("ennio.cli.session_cmd", "app", True),
    "spawn": ("ennio.cli.spawn_cmd", "spawn", False),
    "batch-spawn": ("ennio.cli.spawn_cmd", "batch_spawn", False),
    "send": ("ennio.cli.send_cmd", "send", False),
    "open": ("ennio.cli.send_cmd", "open_session", False),
    "start": ("ennio.cli.daemon_cmd", "start", False),
    "stop": ("ennio.cli.daemon_cmd", "stop", False),
    "plugins": ("ennio.cli.plugins_cmd", "app", True),
    "issue": ("ennio.cli.issue", "app", True),
    "pr": ("ennio.cli.pr", "app", True),
    "review": ("ennio.cli.review", "app", True),
    "demo": ("ennio.cli.demo_cmd", "demo", False),
}
_OPTIONS_WITH_VALUE = ("-c", "--config")


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"ennio {__version__}")
        raise typer.Exit()


def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "-c",
            "--config",
            help="Configuration file (default: ennio.yaml found walking up from here, or $ENNIO_CONFIG).",
            show_default=False,
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show debug logs and tracebacks.")] = False,
    version: Annotated[
        bool, typer.Option("--version", help="Print the version and exit.", callback=_show_version, is_eager=True)
    ] = False,
) -> None:
    show_help_when_bare(ctx)
    state.config_path = config.expanduser() if config is not None else None
    state.debug = debug
    if debug:
        import logging

        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")


def build_app(only: str | None = None) -> typer.Typer:
    """The ``ennio`` app with every command, or with just the command ``only``."""
    app = typer.Typer(
        name="ennio",
        help="Run many AI coding agents in parallel and shepherd each from issue to merged pull request.",
        add_completion=False,
        pretty_exceptions_enable=False,
        # plain help: typer's rich help pulls in rich's Markdown renderer, ~60 ms of every `--help`
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback(invoke_without_command=True)(root)
    for name, (module, attribute, group) in COMMANDS.items():
        if only is not None and name != only:
            continue
        target: Any = getattr(importlib.import_module(module), attribute)
        if group:
            app.add_typer(target, name=name)
        else:
            app.command(name)(target)
    return app


def command_name(args: list[str]) -> str | None:
    """The command ``args`` run (``status`` in ``ennio -c x.yaml status``), if it is a known one."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg in _OPTIONS_WITH_VALUE:
            index += 2
            continue
        if arg.startswith("-"):
            index += 1
            continue
        return arg if arg in COMMANDS else None
    return None


def run(argv: list[str] | None = None, app: typer.Typer | None = None) -> None:
    """Console-script entry point: run the app and turn every failure into a short message."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args or os.environ.get("ENNIO_DEBUG", "") not in ("", "0")
    sys.exit(_run(args, debug, app))


def _run(args: list[str], debug: bool, app: typer.Typer | None) -> int:
    from ennio.cli.output import print_ennio_error, print_error
    from ennio.core.errors import EnnioError

    try:
        if app is None:
            app = build_app(command_name(args))
        result = app(args=args, prog_name="ennio", standalone_mode=False)
    except typer.TyperException as exc:  # bad command-line usage (click's UsageError and friends)
        ctx = getattr(exc, "ctx", None)
        if type(exc).__name__ == "NoArgsIsHelpError":  # a group with `no_args_is_help`, called bare
            typer.echo(exc.format_message())
            return 0
        command = ctx.command_path if ctx is not None else "ennio"
        print_error(exc.format_message(), hint=f"run `{command} --help` to see the usage")
        return exc.exit_code
    except typer.Abort:
        print_error("aborted")
        return 130
    except EnnioError as exc:
        if debug:
            _print_traceback()
        print_ennio_error(exc)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ennio events | head`: the reader went away, which is fine
        _silence_stdout()
        return 0
    except Exception as exc:
        if debug:
            _print_traceback()
            print_error(f"unexpected {type(exc).__name__}: this is a bug in Ennio; please report it with the traceback")
        else:
            print_error(f"unexpected {type(exc).__name__}: {exc} — this is a bug in Ennio; rerun with --debug")
        return 70  # EX_SOFTWARE
    return result if isinstance(result, int) else 0


def _print_traceback() -> None:
    import traceback

    traceback.print_exc(file=sys.stderr)


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at /dev/null so the interpreter's final flush is quiet."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
