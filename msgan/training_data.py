"""A run's training data: the images it asked for (msgan.datasets) at the side it trains at and checked
against its model, or the toy GAN's own samples; and, on resume, the check that they are those it trained on."""
from __future__ import annotations

from msgan.config import TrainConfig
from msgan.data import TrainingSet, channels_first, pattern_set
from msgan.datasets import fit_side, load_images, shape_of
from msgan.errors import MsganError
from msgan.models import MODELS, Shape, check_shape, class_args
from msgan.parallel import SINGLE, Workers
from msgan.runs import RunFolder


def train_side(cfg: TrainConfig, found: Shape) -> int:
    """The side the run trains at: --image-size, else the data's own when the model draws it, else the model's."""
    spec = MODELS[cfg.model]
    if cfg.image_size is not None:
        return cfg.image_size
    return found[1] if found[1] == found[2] and spec.shape_problem(found) is None else spec.image_side


def image_set(cfg: TrainConfig) -> TrainingSet:
    """The run's images (msgan.datasets), at the side it trains at, checked against the model."""
    spec = MODELS[cfg.model]
    name, images = load_images(cfg.data, cfg.dataset, cfg.download, cfg.image_size or spec.image_side, cfg.limit)
    images = fit_side(images, train_side(cfg, shape_of(images)))
    shape = shape_of(images)
    check_shape(cfg.model, shape)
    class_args(cfg.model, len(images.classes))  # a conditional model needs two classes or more
    what = "digits" if name == "mnist" else f"{shape[1]}x{shape[2]} {'colour' if shape[0] == 3 else 'greyscale'} images"
    classes = f" in {len(images.classes)} classes" if images.classes and name != "mnist" else ""
    return TrainingSet(channels_first(images.images), images.labels,
                       f"{len(images)} {what}{classes} ({images.source})", images.classes)


def training_set(cfg: TrainConfig, workers: Workers = SINGLE) -> TrainingSet:
    """The images the run asked for, or the toy GAN's own four-number samples, checked against the
    global batch (--batch-size on each worker)."""
    batch = cfg.batch_size * workers.size
    if cfg.epoch_samples is not None and cfg.epoch_samples < batch:
        raise MsganError(f"--epoch-samples {cfg.epoch_samples} is smaller than a batch of {batch}: "
                         "raise it or lower --batch-size")
    if MODELS[cfg.model].kind == "pattern":
        if (cfg.data != TrainConfig.data or cfg.download or cfg.limit is not None or cfg.dataset is not None
                or cfg.image_size is not None):
            raise MsganError(f"'{cfg.model}' makes its own four-number samples: leave out --data, --dataset, "
                             "--image-size, --download and --limit")
        data = pattern_set(batch, cfg.seed)
    else:
        data = image_set(cfg)
    if batch > len(data):
        on_workers = f" on each of {workers.size} workers" if workers.size > 1 else ""
        raise MsganError(f"--batch-size {cfg.batch_size}{on_workers} is larger than the {len(data)} training images "
                         "allow: lower --batch-size or raise --limit")
    return data


def check_same_data(cfg: TrainConfig, data: TrainingSet, run: RunFolder, history: dict) -> None:
    """Refuse to resume on data of another size, sample shape or classes than the run trained on."""
    checks = [("samples", len(data), history.get("samples")),
              ("sample shape", tuple(data.samples.shape[1:]), cfg.sample_shape)]
    if cfg.classes is not None:  # recorded since runs train on other data than digits
        checks.append(("classes", list(data.classes), cfg.classes))
    for what, now, then in checks:
        if now != then:
            raise MsganError(f"the training data now hold {now} ({what}), but {run.root} trained on {then}: "
                             "resume with the same data")
