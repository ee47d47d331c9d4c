"""Child side of a grading run: set the limits, then run pytest with explicit plugins.

Started by :mod:`workbook.runner` as ``python -I -B -m workbook.child``; it never decides
a verdict, it only reports what it sees over the channel the parent passed in.
"""

from __future__ import annotations

import argparse
import signal
import sys

MB = 1024 * 1024


def apply_limits(memory_mb: int, files_mb: int) -> None:
    """Cap memory and written file size; a core dump would only waste the learner's disk."""
    try:
        import resource
    except ImportError:  # Windows: no rlimits, the parent's timeouts still apply
        return
    limits = [
        (resource.RLIMIT_AS, memory_mb * MB),
        (resource.RLIMIT_FSIZE, files_mb * MB),
        (resource.RLIMIT_CORE, 0),
    ]
    for kind, value in limits:
        _soft, hard = resource.getrlimit(kind)
        if hard != resource.RLIM_INFINITY:
            value = min(value, hard)
        resource.setrlimit(kind, (value, hard))
    # a write past the file limit then fails with EFBIG instead of killing the child
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="workbook.child")
    parser.add_argument("--memory-mb", type=int, required=True)
    parser.add_argument("--files-mb", type=int, required=True)
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    apply_limits(args.memory_mb, args.files_mb)
    import pytest

    from workbook.testing import track_interrupts

    # no terminal reaches this process (it leads its own session): a KeyboardInterrupt no
    # signal delivered is the learner's, and fails the check that ran it
    track_interrupts()

    return int(pytest.main(args.pytest_args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
