"""``python -m allocator <command> ...``: the allocator's command-line tools.

    replay [--check] [--metrics] FILE...   allocator.replay.main
    checkpoint verify|reencode FILE         allocator.checkpoint_cli.main
    lint FILE [--json]                      allocator.lint.main

Each command's module is imported only when it runs, so a tool that is missing or broken never
stops the others. The arguments after the command name are handed to that command's ``main``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "replay": ("allocator.replay", "replay scenario documents, or --check them against their expect blocks"),
    "checkpoint": ("allocator.checkpoint_cli", "verify or re-encode a kubelet memory_manager_state file"),
    "lint": ("allocator.lint", "explain what a kubelet configuration or pod would do"),
}

EXIT_USAGE = 2


def usage() -> str:
    lines = ["usage: python -m allocator <command> [args...]", "", "commands:"]
    lines += [f"  {name:<11} {summary}" for name, (_, summary) in COMMANDS.items()]
    return "\n".join(lines) + "\n"


def _command_main(module_name: str) -> Callable[[list[str]], int | None]:
    module = importlib.import_module(module_name)
    return module.main  # type: ignore[no-any-return]


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a command. Without a known command name the arguments are files to replay
    (the ``mm-playground-replay`` entry point), e.g. ``mm-playground-replay --check a.json``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(usage())
        return 0 if args else EXIT_USAGE
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        if command.startswith("-") or command.endswith(".json"):
            command, rest = "replay", args
        else:
            sys.stderr.write(f"unknown command {command!r}\n\n" + usage())
            return EXIT_USAGE
    try:
        command_main = _command_main(COMMANDS[command][0])
    except ImportError as error:
        sys.stderr.write(f"the {command!r} command is not available: {error}\n")
        return EXIT_USAGE
    code = command_main(rest)
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
