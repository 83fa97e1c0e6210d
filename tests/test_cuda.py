"""CUDA checks (AMP, channels_last, CUDA inference). They need a GPU and are run on a lent GPU machine."""
import numpy as np
import pytest
import torch

from spoofscan.config import TrainConfig
from spoofscan.predict import Detector
from spoofscan.train import amp_dtype, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_amp_training_on_cuda(tiny_run, tmp_path, amp):
    config = TrainConfig(epochs=2, unfreeze_epoch=2, batch_size=16, lr=1e-3, weights="none", amp=amp, device="cuda")
    assert amp_dtype(config, torch.device("cuda")) == (torch.bfloat16 if amp == "bf16" else torch.float16)
    train(tiny_run["store"], tmp_path / amp, config)
    state = torch.load(tmp_path / amp / "last.pt", weights_only=True)
    assert all(np.isfinite(h["train_loss"]) and np.isfinite(h["val_loss"]) for h in state["history"])
    assert state["scaler"] != {} if amp == "fp16" else True


def test_cuda_inference_matches_cpu(tiny_run):
    path = next(tiny_run["data"].rglob("*.wav"))
    cpu = Detector.from_checkpoint(tiny_run["best"], device="cpu").predict_file(path)
    gpu = Detector.from_checkpoint(tiny_run["best"], device="cuda").predict_file(path)
    assert gpu.window_scores == pytest.approx(cpu.window_scores, abs=2e-3)
