"""``python -m export --checkpoint CKPT --output FILE.onnx`` (see ``--help``)."""

from __future__ import annotations

import sys


def _run() -> int:
    try:
        from .onnx_export import main
    except ModuleNotFoundError as exc:
        print(
            f"error: the exporter needs {exc.name!r}; install the maintainer extra: pip install '.[maintainer]'",
            file=sys.stderr,
        )
        return 2
    return main()


if __name__ == "__main__":
    sys.exit(_run())
