"""The command classes behind ``app``: one error line for every failure, clean help.

``Group.main`` runs the command line in click's non-standalone mode, so that usage
errors, library errors that escaped a command, MemoryError and Ctrl-C all end as one
``error:`` line and an exit code instead of a usage box or a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any

import typer
from typer._click.core import Context, Parameter
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperCommand, TyperGroup, TyperOption

from litesr_edge.cli._output import print_error
from litesr_edge.errors import InvalidInputError, LiteSRError, OutOfMemoryError

INTERRUPTED = 130


def _plain_flags(params: list[Parameter]) -> list[Parameter]:
    # Rich help would show a flag (--overwrite, --help) as taking a "<bool>" value.
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A sub-command whose help shows flags without a value placeholder."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain_flags(super().get_params(ctx))


def _given(exc: UsageError, args: Sequence[str]) -> str | None:
    """The value the user gave the option a BadParameter is about (click does not keep it)."""
    param = getattr(exc, "param", None)
    if param is None:
        return None
    for i, arg in enumerate(args):
        for opt in param.opts:
            if arg == opt:
                return args[i + 1] if i + 1 < len(args) else None
            if arg.startswith(opt + "="):
                return arg[len(opt) + 1 :]
            if not opt.startswith("--") and arg.startswith(opt):  # -s2.5
                return arg[len(opt) :]
    return None


def usage_message(exc: UsageError, args: Sequence[str] = ()) -> str:
    """Click's usage error as one line naming the flag and the bad value, and where help is."""
    text = " ".join(exc.format_message().split()).rstrip(".")
    text = text.replace("' / '", "/").replace("'-", "-").replace("':", ":")
    text = text[:1].lower() + text[1:]
    given = _given(exc, args)
    if given is not None and repr(given) not in text:
        head, sep, tail = text.partition(": ")
        text = f"{head} {given!r}{sep}{tail[:1].lower()}{tail[1:]}"
    if exc.ctx is not None:
        text += f" (see {exc.ctx.command_path} --help)"
    return text


def memory_message(exc: MemoryError) -> str:
    """A MemoryError that is not ours (numpy, the engine) in CLI terms."""
    detail = " ".join(str(exc).split()) or "an allocation failed"
    return f"out of memory ({detail}); lower --max-memory or --tile, or close other programs"


def run_guarded(call: Callable[[], Any], args: Sequence[str]) -> int:
    """Run ``call`` (a non-standalone click main on ``args``) and turn every outcome into an exit code."""
    try:
        result = call()
    except NoArgsIsHelpError as exc:
        exc.show(sys.stdout)
        return exc.exit_code
    except UsageError as exc:
        print_error(usage_message(exc, args))
        return InvalidInputError.exit_code
    except LiteSRError as exc:
        print_error(str(exc))
        return exc.exit_code
    except MemoryError as exc:
        print_error(memory_message(exc))
        return OutOfMemoryError.exit_code
    except (KeyboardInterrupt, typer.Abort):
        print_error("interrupted")
        return INTERRUPTED
    if result == INTERRUPTED:  # typer turns KeyboardInterrupt into Exit(130) itself
        print_error("interrupted")
    return result if isinstance(result, int) else 0


class Group(TyperGroup):
    """The ``litesr-edge`` group: errors as one line, flags without placeholders."""

    def get_params(self, ctx: Context) -> list[Parameter]:
        return _plain_flags(super().get_params(ctx))

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,  # click's Context settings; the override must accept what click passes
    ) -> Any:
        def call() -> Any:
            return super(Group, self).main(args, prog_name, complete_var, False, windows_expand_args, **extra)

        if not standalone_mode:
            return call()
        sys.exit(run_guarded(call, sys.argv[1:] if args is None else args))


def version_callback(value: bool) -> None:
    """``--version``: print ``litesr-edge <version>`` and exit."""
    if value:
        from litesr_edge import __version__

        typer.echo(f"litesr-edge {__version__}")
        raise typer.Exit()
