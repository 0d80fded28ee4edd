"""Model facts read from an ONNX file's ``metadata_props`` (never from its name).

The exporter (``export/``) writes these keys; the runtime reads them here.
Keys are prefixed ``litesr.``; values are strings in the file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from litesr_edge.errors import ModelError

__all__ = ["FORMAT_VERSION", "MODEL_PRECISIONS", "ModelInfo", "REQUIRED_KEYS"]

FORMAT_VERSION = 1
PREFIX = "litesr."
REQUIRED_KEYS = (
    "format_version",
    "arch",
    "scale",
    "depth",
    "channels",
    "receptive_field",
    "params",
    "input",
    "output",
    "trained",
)
# What a model file's weights are stored as: "fp32" (the default; any engine precision
# but int8 runs it) or "int8" (a QDQ model made by models/qat.py and the exporter; it runs
# only as precision "int8"). Files from before the key existed are fp32.
MODEL_PRECISIONS = ("fp32", "int8")


@dataclass(frozen=True)
class ModelInfo:
    """What the runtime needs to know about a model, from its ONNX metadata.

    ``receptive_field`` is the radius, in LR pixels, of the input region that
    can influence one output pixel: the tile margin that makes tiling exact.
    ``precision`` is how the file stores the network: "fp32" or "int8" (QDQ).
    """

    scale: int
    depth: int
    channels: int
    receptive_field: int
    params: int
    trained: bool
    arch: str = "LiteSRNet"
    format_version: int = FORMAT_VERSION
    input_layout: str = "NCHW float32 RGB [0,1]"
    output_layout: str = "NCHW float32 RGB [0,1]"
    precision: str = "fp32"
    extra: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_metadata(cls, props: Mapping[str, str], source: Path | str) -> ModelInfo:
        """Build from ``{key: value}`` metadata; raise ModelError if it is not ours."""
        ours = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
        missing = [k for k in REQUIRED_KEYS if k not in ours]
        if missing:
            raise ModelError(
                f"{source} is not a litesr-edge model (metadata lacks {', '.join(PREFIX + k for k in missing)}); "
                "export it with `python -m export --checkpoint CKPT --output FILE.onnx`"
            )
        try:
            version = int(ours["format_version"])
            info = cls(
                scale=int(ours["scale"]),
                depth=int(ours["depth"]),
                channels=int(ours["channels"]),
                receptive_field=int(ours["receptive_field"]),
                params=int(ours["params"]),
                trained=ours["trained"].lower() == "true",
                arch=ours["arch"],
                format_version=version,
                input_layout=ours["input"],
                output_layout=ours["output"],
                precision=ours.get("precision", "fp32"),
                extra={k: v for k, v in ours.items() if k not in (*REQUIRED_KEYS, "precision")},
            )
        except ValueError as exc:
            raise ModelError(f"{source} has malformed litesr metadata ({exc}); re-export the model") from exc
        if version > FORMAT_VERSION:
            raise ModelError(
                f"{source} uses model format {version}, newer than this litesr-edge "
                f"({FORMAT_VERSION}); upgrade litesr-edge"
            )
        if info.precision not in MODEL_PRECISIONS:
            raise ModelError(
                f"{source} stores precision {info.precision!r}, which this litesr-edge cannot run "
                f"(it knows {', '.join(MODEL_PRECISIONS)}); upgrade litesr-edge"
            )
        if info.scale < 1 or info.receptive_field < 0:
            raise ModelError(
                f"{source} has impossible metadata: scale={info.scale}, rf={info.receptive_field}"
            )
        return info

    def to_metadata(self) -> dict[str, str]:
        """The ``litesr.*`` metadata this info is stored as."""
        props = {
            "format_version": str(self.format_version),
            "arch": self.arch,
            "scale": str(self.scale),
            "depth": str(self.depth),
            "channels": str(self.channels),
            "receptive_field": str(self.receptive_field),
            "params": str(self.params),
            "input": self.input_layout,
            "output": self.output_layout,
            "trained": "true" if self.trained else "false",
            "precision": self.precision,
        }
        props.update(self.extra)
        return {PREFIX + k: v for k, v in props.items()}
