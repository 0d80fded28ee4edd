"""Keep native libraries' stderr lines (libjpeg, libpng, OpenCV, ONNX Runtime) from the user.

C code writes to file descriptor 2 directly, bypassing Python. The console script points
fd 2 at the null device and gives Python's ``sys.stderr`` a private duplicate of the real
stream, so the CLI's own one-line errors, notes and progress still reach the terminal
while a decoder's warning does not. Only the CLI does this: a library must not take over
a process's stderr.
"""

from __future__ import annotations

import os
import sys

# Set to keep native stderr, e.g. to debug an engine.
KEEP_ENV = "LITESR_EDGE_NATIVE_STDERR"


def silence_native_stderr() -> None:
    """Route fd 2 to the null device; ``sys.stderr`` keeps writing to the original stream."""
    if os.environ.get(KEEP_ENV) or not hasattr(os, "dup2"):
        return
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # already redirected (e.g. captured): leave it
        return
    if fd != 2:
        return
    sys.stderr.flush()
    private = os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 2)
    os.close(null)
    encoding = getattr(sys.stderr, "encoding", None) or "utf-8"
    sys.stderr = os.fdopen(private, "w", buffering=1, encoding=encoding, errors="backslashreplace")
