"""Every training setting in one place. The defaults reproduce the MindSpore MNIST GAN tutorial."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import platform
from dataclasses import dataclass
from typing import Any, Optional

import msgan


@dataclass
class TrainConfig:
    """The resolved settings of one training run; written to the run's config.yaml."""

    model: str = "mlp"
    data: str = "embedded"          # "embedded" or a folder of MNIST idx files
    download: bool = False          # fetch the tutorial's MNIST_Data.zip into `data` first
    limit: Optional[int] = None     # train on the first N images only
    epochs: int = 70                # all ten digits on the 5,000 embedded images, in about 4 minutes on 2 CPU cores
    batch_size: int = 128           # the tutorial's batch
    latent_dim: int = 100
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    device: str = "auto"            # auto, CPU, GPU or Ascend
    pynative: bool = False          # run the step uncompiled, the tutorial's way, for debugging
    out: Optional[str] = None       # run folder; a new one under runs/ when not given
    grid_size: int = 10             # the per-epoch sample grid is grid_size x grid_size

    def recipe(self) -> dict[str, Any]:
        """The settings that define what a checkpoint contains (architecture and its inputs)."""
        return {"model": self.model, "latent_dim": self.latent_dim, "image_shape": [1, 28, 28]}

    def recipe_hash(self) -> str:
        """A short stable hash of `recipe()`, stored in every checkpoint."""
        text = json.dumps(self.recipe(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Settings plus the versions that produced the run."""
        import mindspore

        return {
            **dataclasses.asdict(self),
            "recipe_hash": self.recipe_hash(),
            "versions": {
                "msgan": msgan.__version__,
                "mindspore": mindspore.__version__,
                "python": platform.python_version(),
            },
        }


FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def from_dict(values: dict[str, Any]) -> TrainConfig:
    """Rebuild a TrainConfig from a saved config.yaml, ignoring the recorded extras."""
    return TrainConfig(**{k: v for k, v in values.items() if k in FIELDS})
