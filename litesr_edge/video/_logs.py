"""FFmpeg's own reports of damaged input, which most decoders conceal instead of failing on.

A decoder that meets a corrupt packet usually logs an error (``slice CRC mismatch``,
``error while decoding MB``) and outputs a frame with the damage concealed. PyAV drops
FFmpeg's log by default; here the decoder's error lines are captured (never printed) for
the length of one run, so that the result can report them.

The capture is process-wide while it lasts (FFmpeg has one log callback): a run that
overlaps another in the same process may see fewer lines. An application that turned
PyAV's logging on gets it back unchanged after the run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import av.logging


@contextmanager
def decoder_errors(decoder: str) -> Iterator[list[str]]:
    """Collect, into the yielded list at the end, the error lines that the decoder ``decoder`` logged."""
    found: list[str] = []
    previous = av.logging.get_level()
    with av.logging.Capture(local=False) as logs:  # decoder threads are FFmpeg's own, not this one
        if previous is None:
            av.logging.set_level(av.logging.ERROR)
        try:
            yield found
        finally:
            if previous is None:
                av.logging.set_level(None)
            found.extend(" ".join(message.split()) for level, name, message in logs
                         if level <= av.logging.ERROR and name == decoder)
