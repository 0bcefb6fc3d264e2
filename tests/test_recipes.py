import dataclasses

import pytest

from conftest import run_script
from msgan.config import RECIPE_DIR, TrainConfig, from_dict, resolve
from msgan.errors import MsganError
from msgan.models import MODELS


def test_every_model_has_a_recipe_that_names_it():
    for model in MODELS:
        cfg = resolve({"model": model})
        assert cfg.model == model and cfg.config == str(RECIPE_DIR / f"{model}.yaml")


def test_settings_added_later_default_to_off():
    """A run saved before a setting existed has no such key in its config.yaml: it must resume as it trained
    (AC-GAN's class term had weight 1 before class_weight existed)."""
    old = {k: v for k, v in dataclasses.asdict(TrainConfig()).items()
           if k not in ("loss", "n_critic", "penalty_weight", "spectral_norm", "ema", "lr_d", "class_weight")}
    cfg = from_dict(old)
    assert (cfg.loss, cfg.n_critic, cfg.spectral_norm, cfg.ema, cfg.lr_d, cfg.class_weight) == (
        "bce", 1, False, 0.0, None, 1.0)


@pytest.mark.parametrize("model, settings", [
    ("mlp-small", {"latent": "normal", "latent_dim": 100}),
    ("mlp-keras", {"latent": "uniform", "latent_dim": 100}),
    ("dcgan", {"latent": "uniform", "latent_dim": 100}),
    ("toy1010", {"loss": "mse", "d_loss": "sum", "optimizer": "sgd", "lr": 0.01, "batch_size": 1, "epochs": 10,
                 "latent_dim": 1, "latent": "constant", "ema": 0.0}),
])
def test_recipes_keep_the_lessons_inputs(model, settings):
    """Recipes are chosen by measurement (README, Quality), but each keeps its lesson's latent; the toy GAN
    is the lesson's run as written."""
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
