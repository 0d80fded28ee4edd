"""What ``GET /v1/models`` and ``GET /healthz`` report."""

from __future__ import annotations

import importlib.util
from typing import Any

from litesr_edge.registry import list_models
from litesr_edge.server.service import Service

__all__ = ["health", "models_report"]


def models_report(service: Service) -> dict[str, Any]:
    """The bundled models, the engines installed, the server's defaults and limits."""
    config = service.config
    default = service.models.default.upscaler
    return {
        "models": [
            {"file": m.path.name, "scale": m.info.scale, "depth": m.info.depth, "precision": m.info.precision,
             "params": m.info.params, "receptive_field": m.info.receptive_field}
            for m in list_models()
        ],
        "engines": {
            "onnxruntime": True,
            # Installed, not necessarily fast here: a request for it falls back if it cannot run.
            "openvino": importlib.util.find_spec("openvino") is not None,
        },
        "default": {"scale": default.scale, "depth": default.info.depth, "engine": default.engine,
                    "precision": default.precision, "model": default.model_path.name},
        "loaded": [
            {"model": m.upscaler.model_path.name, "engine": m.upscaler.engine, "precision": m.upscaler.precision}
            for m in service.models.loaded()
        ],
        "limits": {"max_upload_mb": config.max_upload_mb, "max_pixels": config.max_pixels,
                   "concurrency": config.concurrency, "queue": config.queue, "timeout_s": config.timeout_s},
    }


def health(service: Service) -> dict[str, Any]:
    """``ok`` and how many requests are inside (uploading, waiting or running) of how many allowed."""
    config = service.config
    return {"status": "ok", "inside": service.workers.gate.inside, "capacity": config.concurrency + config.queue}
