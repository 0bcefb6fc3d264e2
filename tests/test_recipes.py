import dataclasses

import pytest
import yaml

from conftest import run_script
from msgan.config import RECIPE_DIR, TrainConfig, resolve
from msgan.errors import MsganError
from msgan.models import MODELS


def test_every_model_has_a_recipe_that_names_it():
    for model in MODELS:
        cfg = resolve({"model": model})
        assert cfg.model == model and cfg.config == str(RECIPE_DIR / f"{model}.yaml")


def test_tutorial_recipe_equals_the_defaults():
    recipe = yaml.safe_load((RECIPE_DIR / "mlp.yaml").read_text())
    defaults = dataclasses.asdict(TrainConfig())
    assert {k: defaults[k] for k in recipe} == recipe


@pytest.mark.parametrize("model, settings", [
    ("mlp-small", {"lr": 3e-4, "loss": "bce", "optimizer": "adam", "latent": "normal"}),
    ("mlp-keras", {"lr": 2e-4, "beta1": 0.5, "latent": "uniform"}),
    ("cgan", {"lr": 2e-4, "beta1": 0.5, "latent": "normal"}),
    ("dcgan", {"lr": 2e-4, "beta1": 0.5, "latent": "uniform", "batch_size": 64}),
    ("toy1010", {"loss": "mse", "d_loss": "sum", "optimizer": "sgd", "lr": 0.01, "batch_size": 1, "epochs": 10,
                 "latent_dim": 1, "latent": "constant"}),
])
def test_recipes_reproduce_the_lessons(model, settings):
    cfg = resolve({"model": model})
    assert {k: getattr(cfg, k) for k in settings} == settings


def test_command_line_overrides_the_recipe(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("model: mlp-small\nepochs: 9\nlr: 0.001\n")
    cfg = resolve({"config": str(recipe), "epochs": 5})
    assert (cfg.model, cfg.epochs, cfg.lr, cfg.batch_size) == ("mlp-small", 5, 0.001, TrainConfig().batch_size)


@pytest.mark.parametrize("text, message", [
    ("epoch: 3\n", "unknown setting 'epoch'; allowed: model, loss"),
    ("epochs: ten\n", "'epochs' must be an integer, got 'ten'"),
    ("lr: true\n", "'lr' must be a number"),
    ("loss: wasserstein\n", "unknown loss 'wasserstein'; choose one of bce, saturating"),
    ("model: vae\n", "unknown model 'vae'; choose one of mlp"),
    ("- 1\n- 2\n", "must be a mapping"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_recipes_name_the_key_and_the_choices(tmp_path, text, message):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text(text)
    with pytest.raises(MsganError, match=message.replace("[", r"\[")):
        resolve({"config": str(recipe)})


def test_bad_recipe_is_one_line_from_train_py(tmp_path):
    recipe = tmp_path / "bad.yaml"
    recipe.write_text("batch_size: 12.5\n")
    result = run_script("train.py", "--config", str(recipe), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"error: {recipe}: 'batch_size' must be an integer, got 12.5"]
    assert not (tmp_path / "run").exists()
