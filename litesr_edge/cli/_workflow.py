"""The photographer's options of ``upscale``: tree walk, output format, name, size, quality, metadata.

Kept out of ``upscale.py`` so that the command stays readable; :class:`FileOptions` is
what every per-file job receives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from litesr_edge.cli._names import FORMAT_HELP, NAME_HELP, Naming, check_format
from litesr_edge.errors import InvalidInputError
from litesr_edge.resize import Size, exact_factor, network_scale

Recursive = Annotated[
    bool, typer.Option("-r", "--recursive", help="Walk sub-folders too; with -o the tree is mirrored there.")
]
Format = Annotated[str | None, typer.Option("--format", help=FORMAT_HELP, metavar="png|jpg|webp|tiff")]
Quality = Annotated[
    int | None, typer.Option("--quality", help="JPEG/WebP encoder quality, 1-100 (default: JPEG 95, WebP lossless).")
]
NameOpt = Annotated[str, typer.Option("--name", help=NAME_HELP, metavar="TEMPLATE")]
OutScale = Annotated[
    float | None,
    typer.Option("--outscale", help="Final size factor, e.g. 2.5: the nearest bundled network, then a resize."),
]
Width = Annotated[int | None, typer.Option("--width", help="Final width in pixels (aspect kept).")]
Height = Annotated[int | None, typer.Option("--height", help="Final height in pixels (aspect kept).")]
StripMetadata = Annotated[
    bool, typer.Option("--strip-metadata", help="Write no EXIF, ICC profile, XMP or IPTC (default: carry them over).")
]

@dataclass(frozen=True)
class FileOptions:
    """Per-file settings passed to ``Upscaler.upscale_file``; the default passes none of them."""

    size: Size = Size()
    quality: int | None = None
    strip_metadata: bool = False

    @property
    def is_default(self) -> bool:
        """Whether upscale_file can be called without any of these keywords."""
        return self == FileOptions()


def file_options(outscale: float | None, width: int | None, height: int | None, quality: int | None,
                 strip_metadata: bool) -> FileOptions:
    """The options checked, with flag names in the errors (the library's checks would name keywords)."""
    if outscale is not None and (width is not None or height is not None):
        raise InvalidInputError("--outscale and --width/--height exclude each other; give one of them")
    if outscale is not None and not outscale > 0:
        raise InvalidInputError(f"--outscale {outscale:g} must be > 0, e.g. 2.5")
    for flag, value in (("--width", width), ("--height", height)):
        if value is not None and value < 1:
            raise InvalidInputError(f"{flag} {value} must be >= 1 (pixels)")
    if quality is not None and not 1 <= quality <= 100:
        raise InvalidInputError(f"--quality {quality} must be within 1-100")
    return FileOptions(Size(outscale, width, height), quality, strip_metadata)


def chosen_scale(scale: int | None, model: object, size: Size) -> int | None:
    """The network factor to load: ``scale`` as given, else for ``--outscale`` the nearest bundled one."""
    if scale is not None or model is not None or size.outscale is None:
        return scale
    from litesr_edge.registry import list_models  # reads metadata only, no engine

    return network_scale(size.outscale, {m.info.scale for m in list_models()})


def naming(template: str, fmt: str | None, network: int, size: Size) -> Naming:
    """The naming of outputs: ``{scale}`` is ``--outscale`` when given, else the network's factor."""
    label = exact_factor(size.outscale) if size.outscale is not None else str(network)
    return Naming(label, template, check_format(fmt))
