"""A model file's facts, read from its bytes: metadata and input/output shapes, no session."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from litesr_edge.errors import ModelError
from litesr_edge.registry import _proto as pb
from litesr_edge.registry.info import ModelInfo


@dataclass(frozen=True)
class ModelHeader:
    """What an ONNX file declares, without its weights: ``litesr.*`` and other metadata, I/O."""

    metadata: dict[str, str]
    inputs: tuple[pb.ValueInfo, ...]
    outputs: tuple[pb.ValueInfo, ...]


def parse_header(data: bytes) -> ModelHeader:
    """Decode metadata and graph inputs/outputs of a serialized ModelProto (ValueError if malformed)."""
    metadata: dict[str, str] = {}
    graph = b""
    for number, _wire, value in pb.fields(data):
        if number == pb.MODEL_GRAPH and isinstance(value, bytes):
            graph = value
        elif number == pb.MODEL_METADATA and isinstance(value, bytes):
            key, val = pb.metadata_entry(value)
            metadata[key] = val
    if not graph:
        raise ValueError("no graph in the model")
    inputs, outputs, inits = [], [], set()
    for number, _wire, value in pb.fields(graph):
        if not isinstance(value, bytes):
            continue
        if number == pb.GRAPH_INPUT:
            inputs.append(pb.value_info(value))
        elif number == pb.GRAPH_OUTPUT:
            outputs.append(pb.value_info(value))
        elif number == pb.GRAPH_INITIALIZER:
            inits.add(_initializer_name(value))
    # IR < 4 lists initializers among the inputs.
    return ModelHeader(metadata, tuple(v for v in inputs if v.name not in inits), tuple(outputs))


def _initializer_name(buf: bytes) -> str:
    for number, _wire, value in pb.fields(buf):
        if number == 8:  # TensorProto.name
            return pb.text(value)
    return ""


def read_header(path: str | os.PathLike[str]) -> ModelHeader:
    """The header of an ONNX file; ModelError if it is missing or not ONNX."""
    model_path = Path(path)
    if not model_path.is_file():
        raise ModelError(f"model file {model_path} does not exist; check the path")
    try:
        return parse_header(model_path.read_bytes())
    except OSError as exc:
        raise ModelError(f"cannot read model {model_path} ({exc.strerror}); check its permissions") from exc
    except (ValueError, UnicodeDecodeError, IndexError) as exc:
        raise ModelError(
            f"{model_path} is not a loadable ONNX model ({exc}); give a file written by `python -m export`"
        ) from exc


def read_model_info(path: str | os.PathLike[str]) -> ModelInfo:
    """A model file's ModelInfo, checked to have one NCHW RGB input and one NCHW output."""
    model_path = Path(path)
    header = read_header(model_path)
    info = ModelInfo.from_metadata(header.metadata, model_path)
    ins, outs = header.inputs, header.outputs
    if len(ins) != 1 or len(outs) != 1 or len(ins[0].dims) != 4 or len(outs[0].dims) != 4:
        raise ModelError(f"{model_path} must have one NCHW input and one NCHW output; re-export it")
    if ins[0].dims[1] != 3:
        raise ModelError(f"{model_path} takes {ins[0].dims[1]} input channels, not 3 (RGB); re-export it")
    return info
