"""PyTorch LiteSRNet -> unrolled, simplified, verified ONNX (maintainer side)."""
