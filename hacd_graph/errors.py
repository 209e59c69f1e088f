"""User errors and the one wrapper that turns them into one line on stderr.

A *user error* is a mistake in what a person typed or pointed at: a bad override, an
unknown config group or key, a setting of the wrong type or out of range, a missing or
unreadable file, a run directory that is a file. ``train.py`` and the ``hacd-graph``
console script run their ``main`` through :func:`run_main`, so a user error prints::

    hacd-graph: error: trainer.max_steps='abc': expected an integer >= 1

and exits with status 2; anything else (a bug) keeps its traceback. ``--debug`` anywhere on
the command line, or ``HYDRA_FULL_ERROR=1``, re-raises user errors too, with the full
traceback.

Which exceptions count as user errors: :class:`UserError` and its subclasses, the library's
``ValueError`` family (``HierarchyError``, bad settings), ``OSError`` (missing files,
permissions, a file where a folder should be), and Hydra/OmegaConf composition errors.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import typing
from collections.abc import Callable, Sequence

DEBUG_FLAG = "--debug"
EXIT_USER_ERROR = 2
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a killed writer


class UserError(Exception):
    """A mistake in the input; its message is one line that names what is wrong."""


class ConfigError(UserError, ValueError):
    """A composed config that cannot run: wrong type, out of range, unknown key or group,
    or a file it names that does not exist. A ``ValueError`` too, so callers that
    caught the settings classes' ``ValueError`` still catch it."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose usage errors are one line too (the usage block is
    what ``--help`` is for); its sub-command parsers inherit the class."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def debug_requested(argv: Sequence[str]) -> bool:
    """Whether the full traceback was asked for (``--debug`` or ``HYDRA_FULL_ERROR=1``)."""
    return DEBUG_FLAG in argv or os.environ.get("HYDRA_FULL_ERROR") == "1"


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` reports bad input rather than a bug (see the module docstring)."""
    if isinstance(error, UserError | ValueError | OSError):
        return True
    return type(error).__module__.startswith(("hydra.", "omegaconf."))


def one_line(error: BaseException) -> str:
    """The message of ``error`` as a single line (Hydra's multi-line messages folded)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        what = error.strerror
        text = f"{error.filename}: {what[0].lower()}{what[1:]}"
        if isinstance(error, PermissionError):
            text += " (a read-only folder or file?)"
        return text
    return fold_lines(str(error)) or type(error).__name__


def fold_lines(message: str) -> str:
    """Fold a multi-line message (Hydra's, OmegaConf's) into one line.

    Drops Hydra's config search path and documentation links; a block of indented items
    (``Available options in 'gnn':`` then one option per line) becomes a comma list.
    """
    parts: list[str] = []
    items: list[str] = []
    for raw in message.splitlines():
        line = raw.strip()
        if line.startswith("Config search path"):
            break
        if not line or line.startswith(("See https://hydra.cc", "full_key:", "object_type=")):
            continue
        if raw.startswith(("\t", "    ")) and parts:
            items.append(line)
            continue
        if items:
            parts[-1] += " " + ", ".join(items)
            items = []
        parts.append(line)
    if items:
        parts[-1] += " " + ", ".join(items)
    text = "; ".join(p.rstrip(".") if i < len(parts) - 1 else p for i, p in enumerate(parts))
    return text.replace(":;", ":")


def run_main(prog: str, body: Callable[[list[str]], int],
             argv: Sequence[str] | None = None) -> int:
    """Run ``body(argv)`` (``--debug`` removed); print a user error as one line.

    Args:
        prog: the command's name, the message's prefix (``"hacd-graph"``, ``"train.py"``).
        body: the command; returns its exit status.
        argv: the arguments (default ``sys.argv[1:]``).

    Returns:
        ``body``'s status, 2 after a user error, 130 after Ctrl-C, 141 when the reader of
        stdout went away.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = debug_requested(argv)
    argv = [a for a in argv if a != DEBUG_FLAG]
    try:
        return int(body(argv) or 0)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as cat does
        # so the interpreter's final flush of stdout is silent too (unless stdout is no file)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        if debug:
            raise
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:
        if debug or not is_user_error(error):
            raise
        print(f"{prog}: error: {one_line(error)} (add {DEBUG_FLAG} for the traceback)",
              file=sys.stderr)
        return EXIT_USER_ERROR
