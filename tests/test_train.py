import csv
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from spoofscan import train as train_module
from spoofscan.augment import brightness_contrast, gaussian_blur3, horizontal_flip, random_resized_crop
from spoofscan.checkpoint import load_checkpoint
from spoofscan.cli import feature_config_from, run, train_config_from
from spoofscan.config import FeatureConfig, TrainConfig, load_toml
from spoofscan.errors import SpoofscanError
from spoofscan.models import build_model, count_trainable, imagenet_weights_path, set_backbone_frozen
from spoofscan.store import Store
from spoofscan.train import train, validate


RECIPES = sorted((Path(__file__).parents[1] / "configs").glob("*.toml"))


@pytest.mark.parametrize("recipe", RECIPES, ids=[r.name for r in RECIPES])
def test_every_recipe_in_configs_names_its_features_and_training_and_loads(recipe):
    tables = load_toml(recipe)
    assert tables.get("features") and tables.get("train"), f"{recipe}: a recipe sets both [features] and [train]"
    features, training = feature_config_from(recipe, {}), train_config_from(recipe, {})
    assert all(getattr(features, k) == v for k, v in tables["features"].items())
    assert all(getattr(training, k) == v for k, v in tables["train"].items())


def test_phase_one_trains_exactly_the_fc_layer():
    model = build_model("resnet18", FeatureConfig(), "none")
    set_backbone_frozen(model, frozen=True)
    assert count_trainable(model) == 1026
    set_backbone_frozen(model, frozen=False)
    assert count_trainable(model) == sum(p.numel() for p in model.parameters()) > 11_000_000


def test_imagenet_weights_load_from_the_torch_hub_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    from torchvision.models import resnet18

    reference = resnet18(weights=None)
    path = imagenet_weights_path()
    assert path == tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    path.parent.mkdir(parents=True)
    torch.save(reference.state_dict(), path)
    model = build_model("resnet18", FeatureConfig(), "imagenet")
    assert torch.equal(model.resnet.conv1.weight, reference.conv1.weight)
    assert model.resnet.fc.out_features == 2
    path.unlink()
    monkeypatch.setattr("torch.hub.load_state_dict_from_url",
                        lambda *a, **k: (_ for _ in ()).throw(OSError("Name or service not known")))
    with pytest.raises(SpoofscanError) as error:
        build_model("resnet18", FeatureConfig(), "imagenet")
    assert str(path) in str(error.value) and "--weights none" in str(error.value)
    with pytest.raises(SpoofscanError, match="no such file"):
        build_model("resnet18", FeatureConfig(), str(tmp_path / "nope.pt"))


def test_augmentations_match_torchvision_v2_per_sample():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 32, 32)
    chosen = torch.tensor([True, False, True, False])
    flipped = horizontal_flip(x, chosen)
    assert torch.equal(flipped[0], TF.horizontal_flip(x[0])) and torch.equal(flipped[1], x[1])
    torch.manual_seed(1)
    jittered = brightness_contrast(x, torch.ones(4, dtype=torch.bool))
    torch.manual_seed(1)
    b = torch.empty(4, 1, 1, 1).uniform_(0.9, 1.1)
    c = torch.empty(4, 1, 1, 1).uniform_(0.9, 1.1)
    for i in range(4):
        expected = TF.adjust_contrast(TF.adjust_brightness(x[i].expand(3, -1, -1), float(b[i])), float(c[i]))
        assert torch.allclose(jittered[i].expand(3, -1, -1), expected, atol=1e-5)
    torch.manual_seed(2)
    blurred = gaussian_blur3(x, chosen)
    torch.manual_seed(2)
    sigma = torch.empty(2, 1).uniform_(0.1, 2.0)
    for i, k in ((0, 0), (2, 1)):
        expected = TF.gaussian_blur(x[i], kernel_size=[3, 3], sigma=[float(sigma[k])] * 2)
        assert torch.allclose(blurred[i], expected, atol=1e-5)
    assert torch.equal(blurred[1], x[1]) and torch.equal(blurred[3], x[3])
    grid = torch.linspace(0, 3, 32)
    smooth = (0.5 + 0.25 * torch.sin(grid)[:, None] + 0.25 * torch.cos(2 * grid)[None, :]).expand(4, 1, 32, 32)
    torch.manual_seed(3)
    cropped = random_resized_crop(smooth, chosen)
    torch.manual_seed(3)  # replay the crop's draws to get each chosen sample's box in pixels
    area = torch.empty(2).uniform_(0.8, 1.0)
    aspect = torch.exp(torch.empty(2).uniform_(np.log(3 / 4), np.log(4 / 3)))
    w, h = torch.sqrt(area * aspect).clamp(max=1), torch.sqrt(area / aspect).clamp(max=1)
    left, top = torch.rand(2) * (1 - w), torch.rand(2) * (1 - h)
    for i, k in ((0, 0), (2, 1)):
        box = [float(v) * 32 for v in (top[k], left[k], h[k], w[k])]
        expected = TF.resized_crop(smooth[i], *[round(v) for v in box], size=[32, 32], antialias=False)
        assert (cropped[i] - expected).abs().mean() < 0.02  # the same box, up to sub-pixel rounding
        assert (cropped[i] - smooth[i]).abs().mean() > 2 * (cropped[i] - expected).abs().mean()
    assert torch.equal(cropped[1], smooth[1]) and torch.equal(cropped[3], smooth[3])


def test_saturation_and_hue_jitter_are_no_ops_on_gray_images():
    gray = torch.rand(1, 16, 16).expand(3, -1, -1)
    assert torch.allclose(TF.adjust_saturation(gray, 1.1), gray, atol=1e-6)
    assert torch.allclose(TF.adjust_hue(gray, 0.05), gray, atol=1e-5)


def test_run_outputs_and_checkpoint(tiny_run):
    run_dir = tiny_run["run"]
    for name in ("config.json", "history.csv", "best.pt", "last.pt", "training_history.png"):
        assert (run_dir / name).stat().st_size > 0, name
    with open(run_dir / "history.csv") as f:
        history = list(csv.DictReader(f))
    assert [int(h["epoch"]) for h in history] == [1, 2, 3] and [h["phase"] for h in history] == ["1", "2", "2"]
    assert float(history[0]["lr"]) == pytest.approx(1e-3) and float(history[1]["lr"]) == pytest.approx(1e-4)
    assert all(float(h["images_per_s"]) > 0 and 0 <= float(h["val_eer"]) <= 1 for h in history)
    state = load_checkpoint(run_dir / "last.pt", feature_config=tiny_run["features"])
    assert state["class_names"] == ["real", "fake"] and 0 <= state["threshold"] <= 1
    assert state["epoch"] == 3 and "optimizer" in state and state["versions"]["torch"] == torch.__version__
    assert state["versions"]["scikit-learn"] and state["versions"]["libsndfile"]  # what a GMM fit and decoding used
    assert "optimizer" not in load_checkpoint(run_dir / "best.pt")


def test_same_seed_same_run(tiny_run, tmp_path):
    train(tiny_run["store"], tmp_path / "again", tiny_run["config"])
    original = load_checkpoint(tiny_run["run"] / "last.pt")
    again = load_checkpoint(tmp_path / "again" / "last.pt")
    assert [h["train_loss"] for h in again["history"]] == [h["train_loss"] for h in original["history"]]


@pytest.mark.parametrize("run_name", ["tiny_run", "dataset_run"])
def test_interrupted_then_resumed_equals_uninterrupted(run_name, request, tmp_path, monkeypatch):
    tiny_run = request.getfixturevalue(run_name)
    calls = {"n": 0}
    real_epoch = train_module.train_one_epoch

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_epoch(*args, **kwargs)

    monkeypatch.setattr(train_module, "train_one_epoch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_run["store"], tmp_path / "r", tiny_run["config"])
    assert load_checkpoint(tmp_path / "r" / "last.pt")["epoch"] == 2
    monkeypatch.setattr(train_module, "train_one_epoch", real_epoch)
    train(tiny_run["store"], tmp_path / "r", tiny_run["config"], resume=True)
    resumed = load_checkpoint(tmp_path / "r" / "last.pt")
    straight = load_checkpoint(tiny_run["run"] / "last.pt")
    assert resumed["epoch"] == 3
    for key, value in straight["model"].items():
        assert torch.allclose(resumed["model"][key].float(), value.float(), atol=1e-6), key
    assert [h["val_loss"] for h in resumed["history"]] == pytest.approx([h["val_loss"] for h in straight["history"]])


def test_dataset_normalization_uses_the_training_set_row_statistics(dataset_run, capsys):
    from spoofscan.checkpoint import model_from_checkpoint
    from spoofscan.features import row_statistics

    state = load_checkpoint(dataset_run["best"], feature_config=dataset_run["features"])
    train_images = Store(dataset_run["store"]).split("train").images
    assert state["input_norm"] == row_statistics(train_images)
    assert len(state["input_norm"]["mean"]) == 40  # one per mel row, resized with the image inside the model
    model = model_from_checkpoint(state).eval()
    mean, std = (torch.tensor(state["input_norm"][k]).view(1, 1, 40, 1).expand(1, 1, 40, 32)
                 for k in ("mean", "std"))
    for k in (0.0, 1.5):  # a stored image whose every row is k std above the training mean becomes k everywhere
        image = torch.nn.functional.interpolate(mean + k * std, size=(32, 32), mode="bilinear", align_corners=False)
        with torch.no_grad():
            assert torch.allclose(model(image), model.resnet(torch.full((1, 3, 32, 32), k)), atol=1e-4)
    store = Store(dataset_run["store"])
    val = validate(model, store.split("val"), features=store.feature_config, batch_size=16,
                   device=torch.device("cpu"), amp=None, cluster=train_module.Cluster())
    assert val["val_loss"] == pytest.approx(state["metrics"]["val_loss"], abs=1e-5)  # the loaded model is the trained one
    assert run(["info", str(dataset_run["best"])]) == 0
    assert "training-set mean/std of each of the 40 rows" in capsys.readouterr().out
    damaged = {k: v for k, v in torch.load(dataset_run["best"], weights_only=True).items() if k != "input_norm"}
    path = dataset_run["root"] / "damaged.pt"
    torch.save(damaged, path)
    with pytest.raises(SpoofscanError, match="lacks the 40 per-row input statistics"):
        load_checkpoint(path)
    torch.save({**damaged, "input_norm": {"mean": [0.5] * 39, "std": [0.1] * 40}}, path)  # one row short
    with pytest.raises(SpoofscanError, match="lacks the 40 per-row input statistics"):
        load_checkpoint(path)


def test_train_errors(tiny_run, tmp_path, capsys):
    assert run(["train", str(tmp_path / "nostore"), "--out", str(tmp_path / "x")]) == 2
    assert "not a spoofscan store" in capsys.readouterr().err
    assert run(["train", str(tiny_run["store"]), "--out", str(tiny_run["run"]), "--weights", "none"]) == 2
    assert "--resume" in capsys.readouterr().err
    assert run(["train", str(tiny_run["store"]), "--out", str(tmp_path / "y"), "--resume"]) == 2
    assert "checkpoint not found" in capsys.readouterr().err
    assert run(["train", str(tiny_run["store"]), "--out", str(tmp_path / "z"), "--set", "aug_blur=0"]) == 2
    assert "unknown TrainConfig field" in capsys.readouterr().err
    assert run(["train", str(tiny_run["store"]), "--out", str(tmp_path / "z"), "--amp", "fp8"]) == 2
    assert "amp" in capsys.readouterr().err


def test_ddp_two_cpu_processes_with_gloo(tiny_run, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with socket.socket() as probe:  # a free port, so two test runs on one machine do not collide
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-port", port,
               "-m", "spoofscan", "train", str(tiny_run["store"]), "--out", str(out), "--epochs", "2",
               "--unfreeze-epoch", "2", "--batch-size", "8", "--weights", "none", "--threads", "1"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    state = load_checkpoint(out / "last.pt")
    assert state["epoch"] == 2
    import json
    assert json.loads((out / "config.json").read_text())["world_size"] == 2
    # validation metrics were gathered over both ranks: one process on the saved model gets the same numbers
    model = build_model("resnet18", state["feature_config"], "none")
    model.load_state_dict(state["model"])
    store = Store(tiny_run["store"])
    val = validate(model, store.split("val"), features=store.feature_config, batch_size=16,
                   device=torch.device("cpu"), amp=None, cluster=train_module.Cluster())
    assert val["val_loss"] == pytest.approx(state["history"][-1]["val_loss"], abs=1e-5)
    assert val["val_eer"] == pytest.approx(state["history"][-1]["val_eer"], abs=1e-9)
    assert not list(out.glob(".*.tmp"))


def test_train_config_from_toml(tiny_run, tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[train]\nepochs = 1\nbatch_size = 8\nweights = 'none'\nthreads = 1\naug_specaugment = true\n")
    assert run(["train", str(tiny_run["store"]), "--out", str(tmp_path / "t"), "--config", str(toml),
                "--set", "max_train_batches=2"]) == 0
    config = load_checkpoint(tmp_path / "t" / "last.pt")["train_config"]
    assert config.aug_specaugment and config.max_train_batches == 2 and config.batch_size == 8
    assert np.isfinite(load_checkpoint(tmp_path / "t" / "last.pt")["metrics"]["val_loss"])


def test_the_shipped_seed_config_is_the_default():
    from pathlib import Path

    from spoofscan.config import FeatureConfig, from_dict, load_toml

    tables = load_toml(Path(__file__).parent.parent / "configs" / "seed.toml")
    assert from_dict(FeatureConfig, tables["features"]) == FeatureConfig()
    assert from_dict(TrainConfig, tables["train"]) == TrainConfig()


def test_early_stopping_stops_after_the_patience(tiny_run, tmp_path, monkeypatch):
    losses = iter([0.5, 0.6, 0.7, 0.8, 0.9])
    real_validate = train_module.validate

    def worsening(*args, **kwargs):
        return {**real_validate(*args, **kwargs), "val_loss": next(losses)}

    monkeypatch.setattr(train_module, "validate", worsening)
    config = TrainConfig(**{**tiny_run["config"].__dict__, "epochs": 5, "early_stopping": 2})
    train(tiny_run["store"], tmp_path / "es", config)
    state = load_checkpoint(tmp_path / "es" / "last.pt")
    assert state["epoch"] == 3 and load_checkpoint(tmp_path / "es" / "best.pt")["epoch"] == 1


def test_checkpoint_with_other_preprocessing_is_refused(tiny_run, tmp_path):
    state = torch.load(tiny_run["best"], weights_only=True)
    state["preprocessing"] = {**state["preprocessing"], "mean": [0.5, 0.5, 0.5]}
    torch.save(state, tmp_path / "other.pt")
    with pytest.raises(SpoofscanError, match="other input preprocessing"):
        load_checkpoint(tmp_path / "other.pt")


def test_cuda_asked_where_there_is_none(tiny_run, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert run(["train", str(tiny_run["store"]), "--out", str(tmp_path / "c"), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err
