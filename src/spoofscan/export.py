"""ONNX export of the network (dynamic batch axis), checked against PyTorch with onnxruntime."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, model_from_checkpoint
from .config import to_dict
from .errors import SpoofscanError
from .io import write_with
from .model import SpoofNet

PARITY_TOLERANCE = 1e-4


def onnx_session(path: str | Path):
    """An onnxruntime CPU session for an exported model."""
    try:
        import onnxruntime
    except ImportError:
        raise SpoofscanError("onnxruntime is not installed; pip install 'spoofscan[onnx]'") from None
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def max_logit_difference(model: SpoofNet, session, x: torch.Tensor) -> float:
    with torch.inference_mode():
        expected = model(x).numpy()
    got = session.run(None, {"images": x.numpy()})[0]
    return float(np.abs(expected - got).max())


def export_onnx(checkpoint: str | Path | None, out: str | Path, *, opset: int = 17) -> Path:
    """Export a checkpoint's network to ONNX (input "images": (batch, 1, S, S) in [0, 1]; output "logits").

    The file carries the FeatureConfig, threshold and class names as metadata, and is only kept if
    onnxruntime reproduces the PyTorch logits within 1e-4 on random inputs.
    """
    try:
        import onnx
    except ImportError:
        raise SpoofscanError("onnx is not installed; pip install 'spoofscan[onnx]'") from None
    state = load_checkpoint(checkpoint)
    size = state["feature_config"].image_size
    model = model_from_checkpoint(state)
    model.eval()
    example = torch.rand(2, 1, size, size)

    def save(buffer) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), buffer, input_names=["images"], output_names=["logits"],
                              dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
        proto = onnx.load_from_string(buffer.getvalue())
        metadata = {"feature_config": json.dumps(to_dict(state["feature_config"])),
                    "threshold": str(state["threshold"]), "class_names": "real,fake",
                    "score": "P(fake) = softmax(logits)[:, 1]"}
        for key, value in metadata.items():
            entry = proto.metadata_props.add()
            entry.key, entry.value = key, value
        buffer.seek(0)
        buffer.truncate()
        buffer.write(proto.SerializeToString())

    def check(path: Path) -> None:
        session = onnx_session(path)
        generator = torch.Generator().manual_seed(0)
        for batch in (1, 5):
            x = torch.rand(batch, 1, size, size, generator=generator)
            difference = max_logit_difference(model, session, x)
            if difference > PARITY_TOLERANCE:
                raise ValueError(f"onnxruntime logits differ from PyTorch by {difference:.2e} > {PARITY_TOLERANCE}")

    return write_with(out, save, check=check)
