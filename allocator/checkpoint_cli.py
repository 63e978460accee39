"""``python -m allocator checkpoint verify|reencode FILE``: the kubelet's checkpoint loader as a CLI.

``verify`` does what ``state.NewCheckpointState`` does with the file (``GetCheckpoint``: decode, verify the
checksum; with ``--policy`` also the policy-name check of ``restoreState``): exit 0 printing the checksum,
or exit 1 printing the kubelet's exact error text on stderr.

``reencode`` decodes the file and writes it back as ``MemoryManagerCheckpointV1.MarshalCheckpoint`` does
(checksum recomputed, no trailing newline), to stdout or ``-o FILE``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from allocator.checkpoint import (
    DEFAULT_STATE_FILE,
    CheckpointError,
    decode_checkpoint,
    marshal_checkpoint,
    policy_mismatch,
    restore_error,
)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m allocator checkpoint",
        description="Check or rewrite a kubelet memory_manager_state file exactly as the kubelet would.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    verify = sub.add_parser("verify", help="exit 0 and print the checksum if the kubelet would load the file")
    verify.add_argument("file", help="path of a memory_manager_state file ('-' for stdin)")
    verify.add_argument(
        "--policy",
        default=None,
        help="also check the policy name against this configured policy (e.g. Static)",
    )
    verify.add_argument(
        "--state-file",
        default=DEFAULT_STATE_FILE,
        help="path the kubelet's error text names (default: %(default)s)",
    )
    reencode = sub.add_parser("reencode", help="decode the file and write it back as the kubelet would")
    reencode.add_argument("file", help="path of a memory_manager_state file ('-' for stdin)")
    reencode.add_argument("-o", "--output", default=None, help="write here instead of stdout")
    reencode.add_argument(
        "--state-file",
        default=DEFAULT_STATE_FILE,
        help="path the kubelet's error text names (default: %(default)s)",
    )
    return parser


def _read(path: str) -> bytes:
    if path == "-":
        return sys.stdin.buffer.read()
    with open(path, "rb") as fh:
        return fh.read()


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; ``argv`` may start with the word ``checkpoint`` (as ``python -m allocator`` passes it)."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "checkpoint":
        args_list = args_list[1:]
    args = _parser().parse_args(args_list)
    try:
        data = _read(args.file)
    except OSError as err:
        print(f"cannot read {args.file}: {err.strerror or err}", file=sys.stderr)
        return 2
    try:
        cp = decode_checkpoint(data)
    except CheckpointError as err:
        print(restore_error(err.message, args.state_file), file=sys.stderr)
        return 1
    if args.command == "verify":
        if args.policy is not None and cp.policy_name != args.policy:
            print(
                restore_error(policy_mismatch(args.policy, cp.policy_name), args.state_file), file=sys.stderr
            )
            return 1
        print(cp.checksum)
        return 0
    text = marshal_checkpoint(cp)
    if args.output:
        with open(args.output, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        sys.stdout.buffer.write(text.encode("utf-8"))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
