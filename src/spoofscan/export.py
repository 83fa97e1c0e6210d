"""ONNX export of a checkpoint's model, any family (dynamic batch axis), checked against PyTorch with onnxruntime."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import torch

from .checkpoint import load_checkpoint, model_from_checkpoint, require_single
from .config import FeatureConfig, to_dict
from .errors import SpoofscanError
from .features import model_input
from .io import write_with

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


def max_logit_difference(model: torch.nn.Module, session, x: torch.Tensor) -> float:
    """Largest difference of onnxruntime's logits from PyTorch's, relative to 1 + |logit| (a GMM's logits are
    log-likelihoods in the hundreds, where float32 keeps about 1e-5 of them)."""
    with torch.inference_mode():
        expected = model(x).numpy()
    got = session.run(None, {"input": x.numpy()})[0]
    return float((np.abs(expected - got) / (1 + np.abs(expected))).max())


def example_input(config: FeatureConfig, batch: int, generator: torch.Generator) -> torch.Tensor:
    """Random windows of the stored dtype and shape, turned into model input as at inference."""
    shape = (batch, *config.stored_shape)
    if config.input_kind == "image":
        stored = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
    elif config.input_kind == "lfcc":
        stored = torch.randn(shape, generator=generator) * 5
    else:
        stored = (torch.randn(shape, generator=generator) * 1600).round().to(torch.int16)  # about -26 dBFS
    return model_input(stored, config)


def export_onnx(checkpoint: str | Path | None, out: str | Path, *, opset: int = 17) -> Path:
    """Export a checkpoint's model to ONNX (input "input": what features.model_input gives, e.g. (batch, 1, S, S)
    images in [0, 1]; output "logits").

    The file carries the FeatureConfig, model family, threshold and class names as metadata, and is only kept if
    onnxruntime reproduces the PyTorch logits within 1e-4 on random inputs.
    """
    try:
        import onnx
    except ImportError:
        raise SpoofscanError("onnx is not installed; pip install 'spoofscan[onnx]'") from None
    state = load_checkpoint(checkpoint)
    require_single(state, checkpoint, "export each member (`spoofscan export MEMBER.pt`) and combine their "
                   "log-odds with the weights that `spoofscan info` shows")
    features = state["feature_config"]
    model = model_from_checkpoint(state)
    model.eval()
    example = example_input(features, 2, torch.Generator().manual_seed(1))

    def save(buffer) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (example,), buffer, input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}}, opset_version=opset,
                              dynamo=False)
        proto = onnx.load_from_string(buffer.getvalue())
        metadata = {"feature_config": json.dumps(to_dict(features)), "model": state["train_config"].model,
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
            x = example_input(features, batch, generator)
            difference = max_logit_difference(model, session, x)
            if difference > PARITY_TOLERANCE:
                raise ValueError(f"onnxruntime logits differ from PyTorch by {difference:.2e} > {PARITY_TOLERANCE}")

    return write_with(out, save, check=check)
