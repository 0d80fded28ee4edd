"""Output names: the ``--name`` template and the ``--format`` choice."""

from __future__ import annotations

import os
import string
from dataclasses import dataclass
from pathlib import Path

from litesr_edge.errors import InvalidInputError
from litesr_edge.io import IMAGE_SUFFIXES

DEFAULT_TEMPLATE = "{stem}_x{scale}.{ext}"
FIELDS = ("stem", "scale", "ext")
FORMATS = ("png", "jpg", "webp", "tiff")
NAME_HELP = (
    "Output file name: {stem} (input name without extension), {scale} (the factor: -s, or --outscale), "
    "{ext} (--format, else the input's)."
)
FORMAT_HELP = "Output format: png, jpg, webp or tiff (default: the input's). 16-bit stays 16-bit in png/tiff."


def check_format(value: str | None) -> str | None:
    """``value`` lower-cased, if it is one of FORMATS; InvalidInputError naming --format otherwise."""
    if value is None:
        return None
    fmt = value.lower().lstrip(".")
    fmt = {"jpeg": "jpg", "tif": "tiff"}.get(fmt, fmt)
    if fmt not in FORMATS:
        raise InvalidInputError(f"--format {value!r} is unknown; choose one of {', '.join(FORMATS)}")
    return fmt


@dataclass(frozen=True)
class Naming:
    """How an input's output file is named: ``template`` filled with the stem, factor and extension."""

    scale: str
    template: str = DEFAULT_TEMPLATE
    fmt: str | None = None

    def __post_init__(self) -> None:
        _check_template(self.template)
        sample = self.name(Path("photo.png"))
        if Path(sample).suffix.lower() not in IMAGE_SUFFIXES:
            raise InvalidInputError(
                f"--name {self.template!r} gives {sample!r}, which has no image extension; end it with .{{ext}}"
            )

    def name(self, src: Path) -> str:
        """The output file name for input ``src``."""
        ext = self.fmt if self.fmt is not None else src.suffix.lstrip(".")
        return self.template.format(stem=src.stem, scale=self.scale, ext=ext)


def _check_template(template: str) -> None:
    if not template.strip():
        raise InvalidInputError("--name is empty; give a template such as '{stem}_x{scale}.{ext}'")
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise InvalidInputError(f"--name {template!r} is not a valid template ({exc}); use {{stem}}, "
                                "{scale} and {ext}") from None
    for _, field, spec, conversion in parts:
        if field is not None and (field not in FIELDS or spec or conversion):
            raise InvalidInputError(
                f"--name {template!r} has an unknown field {{{field}}}; use {', '.join('{' + f + '}' for f in FIELDS)}"
            )
    separators = {os.sep, "/"} | ({os.altsep} if os.altsep else set())
    if any(sep in template for sep in separators) or template.strip(".") == "":
        raise InvalidInputError(f"--name {template!r} must be a file name, without a folder; use -o for the folder")
