"""Drawing digits (or the toy GAN's four numbers) from a generator checkpoint, or from a MINDIR graph that
export.py wrote, which runs without msgan's model code."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Optional, get_type_hints

import mindspore as ms
import numpy as np
from mindspore import nn

from msgan.checkpoints import CheckpointInfo, load_generator, read_checkpoint, read_checkpoint_extras
from msgan.config import CHOICES, TrainConfig, from_dict, resolve
from msgan.data import DIGIT_NAMES, to_uint8
from msgan.device import available_memory, quiet_native_output, select_device
from msgan.errors import MsganError
from msgan.files import atomic_path
from msgan.models import MODELS, build_generator
from msgan.runs import latest_generator, read_config
from msgan.sampling import generate, latents
from msgan.streams import SAMPLE_LABELS, stream
from msgan.visuals import FRAME, MAX_GRID_SIDE, heat_strip, make_grid, save_png

DEFAULT_NUM = 64  # samples drawn when --num is not given (but --digit all draws ten of each class)
PER_CLASS = 10    # samples of each class with --digit all


@dataclass
class InferRequest:
    """What infer.py was asked for."""

    ckpt: Optional[str] = None
    run: Optional[str] = None
    mindir: Optional[str] = None      # a graph written by export.py, instead of --ckpt or --run
    raw: bool = False                 # --run: the trained weights, not their moving average
    num: Optional[int] = None         # None: 64, or ten of each class with --digit all (see checked_request)
    seed: int = 0
    out: Optional[str] = None
    png: bool = False
    png_dir: Optional[str] = None     # one PNG per sample in this folder (new or empty), instead of in --out
    model: Optional[str] = None       # used when the run has no config.yaml
    latent_dim: Optional[int] = None  # likewise
    latent: Optional[str] = None      # likewise
    digit: Optional[str] = None       # conditional models: "0".."9" or "all"
    device: str = "auto"
    batch_size: int = 256             # checkpoints only: a graph runs its own fixed batch


RAW_FIXES = {  # what to do instead of --raw, by the source given with it
    "--ckpt": "pass the checkpoint you want to --ckpt (Generator<E>.ckpt holds the trained weights, "
              "Generator<E>_ema.ckpt their average), or use --run RUN --raw",
    "--mindir": "export the trained weights with export.py --run RUN --raw and pass that graph",
    "--samples": "draw the samples with infer.py --run RUN --raw and score those",
    "--real": "leave out --raw",
}


def raw_without_run(source: str) -> MsganError:
    """The error for --raw beside `source` (a key of RAW_FIXES) instead of --run."""
    return MsganError(f"--raw picks a run folder's trained weights over their moving average, so it goes with "
                      f"--run RUN only, not {source}: {RAW_FIXES[source]}")


def resolve_checkpoint(ckpt: Optional[str], run: Optional[str], raw: bool = False) -> tuple[Path, Path]:
    """(generator checkpoint, the run folder it belongs to), from --ckpt FILE or --run RUN; a run's latest
    epoch gives its moving average when it keeps one, unless `raw` asks for the trained weights."""
    if (ckpt is None) == (run is None):
        raise MsganError("give exactly one of --ckpt FILE or --run RUN_FOLDER")
    if run is not None:
        run_root = Path(run).expanduser()
        if run_root.name == "checkpoints" and (run_root.parent / "config.yaml").is_file():
            run_root = run_root.parent  # RUN/checkpoints given for RUN
        if not run_root.is_dir():
            raise MsganError(f"run folder {run_root} does not exist: pass a folder under runs/")
        return latest_generator(run_root, raw), run_root
    if raw:
        raise raw_without_run("--ckpt")
    path = Path(ckpt).expanduser()
    return path, path.parent.parent  # runs/X/checkpoints/GeneratorN.ckpt


def resolve_architecture(run_root: Path, ckpt: Path, model: Optional[str] = None, latent_dim: Optional[int] = None,
                         latent: Optional[str] = None) -> TrainConfig:
    """The run's settings from its config.yaml when it is there; otherwise from the flags and the recipe of
    --model, or of the model that the checkpoint records (a checkpoint copied out of its run folder)."""
    saved = read_config(run_root)
    if saved is not None:
        return from_dict(saved)
    flags = {k: v for k, v in (("model", model or read_checkpoint(ckpt)[1].model), ("latent_dim", latent_dim),
                               ("latent", latent)) if v is not None}
    return resolve(flags)


def load_trained_generator(ckpt: Path, cfg: TrainConfig) -> tuple[nn.Cell, CheckpointInfo]:
    """A generator of the run's architecture (sample shape and classes included) with the checkpoint's weights."""
    generator = build_generator(cfg.model, cfg.latent_dim, shape=cfg.sample_shape, classes=cfg.num_classes)
    return generator, load_generator(generator, ckpt, cfg.model)


def weights_of(ckpt: Path) -> str:
    """Which weights a generator checkpoint holds, for summary lines: G's moving average (whose checkpoints
    record its decay) or the trained weights."""
    decay = read_checkpoint_extras(ckpt)[2].get("ema")
    return "trained weights" if decay is None else f"moving-average weights (decay {decay:g})"


@dataclass
class GraphInfo:
    """What a MINDIR graph cannot tell about itself; export.py writes it beside FILE.mindir as FILE.json."""

    model: str
    latent_dim: int
    latent: str         # the distribution of the latents, see TrainConfig.latent
    batch: int          # the graph's fixed number of latents per call
    conditional: bool   # takes int32 digit labels as its second input
    kind: str           # "digits" or "pattern" (the toy GAN's four numbers), see models.ModelSpec
    checkpoint: str     # the checkpoint it was exported from, as export.py was given it
    epoch: int
    msgan_version: str  # of the msgan that exported it
    # one sample's shape, and the class names a conditional graph's labels index; None in sidecars written
    # before msgan drew anything but digits: the model's default shape (an MNIST digit), the ten digits
    shape: Optional[list] = None
    classes: Optional[list] = None

    @property
    def drawn(self) -> "Drawn":
        shape = tuple(self.shape) if self.shape else MODELS[self.model].sample_shape
        classes = tuple(self.classes) if self.classes is not None else DIGIT_NAMES
        return Drawn(self.kind, shape, classes if self.conditional else None)

    def to_json(self) -> str:
        """The sidecar's text."""
        return json.dumps(asdict(self), indent=2) + "\n"


KINDS = ("digits", "pattern")
SIDECAR_LISTS = ("shape", "classes")  # optional: older sidecars lack them


@dataclass(frozen=True)
class Drawn:
    """What a generator draws: its kind (see models.ModelSpec), one sample's shape, and the class names that a
    conditional generator's labels index (None for the others)."""

    kind: str
    shape: tuple[int, ...]
    classes: Optional[tuple[str, ...]]


def drawn_by(cfg: TrainConfig) -> Drawn:
    """What the run's generator draws."""
    spec = MODELS[cfg.model]
    return Drawn(spec.kind, cfg.sample_shape, cfg.class_names if spec.conditional else None)


def sidecar_path(mindir: Path) -> Path:
    """FILE.json for FILE.mindir."""
    return mindir.with_suffix(".json")


def read_graph_info(mindir: Path) -> GraphInfo:
    """The graph's sidecar, checked; a missing or invalid one is one line that says to export again."""
    sidecar = sidecar_path(mindir)
    fix = f"export the checkpoint again with export.py, which writes {sidecar.name} beside the .mindir"
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise MsganError(f"{sidecar} is missing: infer.py needs it for the graph's latents and batch; {fix}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MsganError(f"{sidecar} is not readable JSON ({err}): {fix}") from err
    problem = graph_info_problem(data)
    if problem is not None:
        raise MsganError(f"{sidecar} is not a valid msgan graph description ({problem}): {fix}")
    return GraphInfo(**{f.name: data[f.name] for f in fields(GraphInfo) if f.name in data})


def graph_info_problem(data: object) -> Optional[str]:
    """What is wrong with a parsed sidecar, or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    for name, wanted in get_type_hints(GraphInfo).items():
        if name in SIDECAR_LISTS:
            if data.get(name) is not None and not isinstance(data[name], list):
                return f"'{name}' must be a list, not {data[name]!r}"
            continue
        if name not in data:
            return f"'{name}' is missing"
        if type(data[name]) is not wanted:
            return f"'{name}' must be of type {wanted.__name__}, not {data[name]!r}"
    if data["latent"] not in CHOICES["latent"]:
        return f"unknown latent '{data['latent']}'"
    if data["kind"] not in KINDS:
        return f"unknown kind '{data['kind']}'"
    if data["latent_dim"] < 1 or data["batch"] < 1:
        return "'latent_dim' and 'batch' must be at least 1"
    return None


def load_graph(mindir: Path) -> nn.GraphCell:
    """The exported graph, ready to call; a damaged file is one line (MindSpore's own log line is silenced)."""
    try:
        with quiet_native_output():
            return nn.GraphCell(ms.load(str(mindir)))
    except RuntimeError as err:  # MindSpore 2.10: 'Load MindIR failed.' for a truncated, empty or foreign file
        raise MsganError(f"{mindir} cannot be loaded as a MINDIR graph (damaged or truncated): "
                         "export the checkpoint again with export.py") from err


def generate_fixed_batch(graph: nn.Cell, z: np.ndarray, labels: Optional[np.ndarray], batch: int) -> np.ndarray:
    """The graph's output in calls of its fixed batch: the last chunk is padded with zeros, and the padding dropped."""
    pad = -len(z) % batch
    z_padded = np.concatenate([z, np.zeros((pad, z.shape[1]), z.dtype)])
    if labels is not None:
        labels = np.concatenate([labels, np.zeros(pad, labels.dtype)])
    return generate(graph, z_padded, labels, batch)[:len(z)]


def checked_request(request: InferRequest, drawn: Drawn) -> InferRequest:
    """The request with its number of samples: --num, or by default 64; with --digit all, ten of each class."""
    classes = drawn.classes or ()
    num = request.num if request.num is not None else (
        PER_CLASS * len(classes) if request.digit == "all" and classes else DEFAULT_NUM)
    for name, value in (("num", num), ("batch_size", request.batch_size)):
        if value < 1:
            raise MsganError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    return replace(request, num=num)


def class_labels(request: InferRequest, classes: Optional[tuple[str, ...]]) -> Optional[np.ndarray]:
    """The class of each of the request.num samples of a conditional generator (None for the others): --digit C
    (a class number or name), or with --digit all an equal share of each class (the first ones one more when
    they do not divide evenly), grouped by class, or without --digit, classes drawn at random from the seed."""
    if classes is None:
        if request.digit is not None:
            raise MsganError("--digit needs a conditional model such as cgan; this generator draws any class")
        return None
    num, count = request.num, len(classes)
    if request.digit is None:
        return stream(request.seed, SAMPLE_LABELS).integers(0, count, num).astype(np.int32)
    if request.digit == "all":
        counts = num // count + (np.arange(count) < num % count)
        return np.repeat(np.arange(count, dtype=np.int32), counts)
    chosen = class_index(request.digit, classes)
    return np.full(num, chosen, dtype=np.int32)


def class_index(asked: str, classes: tuple[str, ...]) -> int:
    """The label of the class named `asked`, or numbered so (0 to len(classes) - 1)."""
    if asked in classes:
        return classes.index(asked)
    if asked.isdigit() and int(asked) < len(classes):
        return int(asked)
    shown = ", ".join(classes[:12]) + (", …" if len(classes) > 12 else "")
    raise MsganError(f"--digit must be a class number 0-{len(classes) - 1}, a class name ({shown}) or 'all', "
                     f"got '{asked}': leave it out to draw random classes")


def check_memory(num: int, latent_dim: int, sample_shape: tuple[int, ...]) -> None:
    """Refuse, in one line, a request whose samples would not fit in this machine's memory: the latents, G's
    float32 outputs (twice, while their batches are joined) and their uint8 pictures are all held at once."""
    values = int(np.prod(sample_shape))
    per_sample = 4 * (latent_dim + 2 * values + 1) + values
    have = available_memory()
    if have is not None and num * per_sample > have:
        raise MsganError(f"--num {num} needs about {num * per_sample / 2**30:.1f} GiB of memory for its samples, "
                         f"and this machine has {have / 2**30:.1f} GiB free: ask for at most "
                         f"{have // per_sample:,}, and run infer.py again with another --seed for more")


def fresh_folder(path: str, flag: str) -> Path:
    """A folder for outputs that is new or empty: msgan never writes among files that are already there."""
    out = Path(path).expanduser()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MsganError(f"output folder {out} already exists and is not empty: choose another {flag}")
    return out


def output_folder(request: InferRequest, ckpt: Path, run_root: Path) -> Path:
    """The folder for the samples: --out, or samples/<checkpoint>-seed<S>-n<N> inside the run, with -2, -3, …
    added when the same command ran before; never a used one."""
    if request.png_dir is not None:
        fresh_folder(request.png_dir, "--png-dir")
    if request.out is not None:
        return fresh_folder(request.out, "--out")
    base = run_root if (run_root / "config.yaml").is_file() else Path(".")
    digit = f"-digit{request.digit}" if request.digit is not None else ""
    name = f"{ckpt.stem}-seed{request.seed}-n{request.num}{digit}"
    out, again = base / "samples" / name, 1
    while out.exists():  # the same request again: a fresh folder beside the first
        again += 1
        out = base / "samples" / f"{name}-{again}"
    return out


def infer(request: InferRequest) -> Path:
    """Write grid.png, samples.npy, labels.npy for a conditional generator, and optional PNGs; return the folder.

    samples.npy holds images as uint8, greyscale (N, H, W) with 255 = ink or colour (N, H, W, 3), or the toy
    GAN's float32 (N, 4); labels.npy the int32 class each sample was drawn as.
    """
    if request.mindir is not None:
        return infer_graph(request)
    ckpt, run_root = resolve_checkpoint(request.ckpt, request.run, request.raw)
    cfg = resolve_architecture(run_root, ckpt, request.model, request.latent_dim, request.latent)
    drawn = drawn_by(cfg)
    request = checked_request(request, drawn)
    check_memory(request.num, cfg.latent_dim, drawn.shape)
    labels = class_labels(request, drawn.classes)
    out = output_folder(request, ckpt, run_root)
    select_device(request.device)
    generator, info = load_trained_generator(ckpt, cfg)
    z = latents(request.num, cfg.latent_dim, request.seed, distribution=cfg.latent)
    note = save_samples(request, out, generate(generator, z, labels, request.batch_size), drawn, labels)
    print(f"msgan: {request.num} samples from {ckpt} ('{cfg.model}', epoch {info.epoch}, {weights_of(ckpt)}, "
          f"seed {request.seed}) written to {out}{note}", flush=True)
    return out


def infer_graph(request: InferRequest) -> Path:
    """infer() for --mindir: the same latents, labels and files, from the graph and its sidecar alone."""
    if request.raw:
        raise raw_without_run("--mindir")
    mindir = Path(request.mindir).expanduser()
    if mindir.suffix != ".mindir":
        raise MsganError(f"--mindir {mindir}: pass a .mindir file written by export.py")
    if not mindir.is_file():
        raise MsganError(f"MINDIR file {mindir} does not exist: pass a .mindir file written by export.py")
    flags = [flag for flag, value in (("--model", request.model), ("--latent-dim", request.latent_dim),
                                      ("--latent", request.latent)) if value is not None]
    if flags:
        raise MsganError(f"{', '.join(flags)} cannot be used with --mindir: the graph was fixed by export.py and "
                         f"{sidecar_path(mindir).name} describes it; leave out {', '.join(flags)}")
    info = read_graph_info(mindir)
    request = checked_request(request, info.drawn)
    check_memory(request.num, info.latent_dim, info.drawn.shape)
    labels = class_labels(request, info.drawn.classes)
    out = output_folder(request, mindir, mindir.parent.parent)  # RUN/export/FILE.mindir: samples go into RUN
    select_device(request.device)
    graph = load_graph(mindir)
    z = latents(request.num, info.latent_dim, request.seed, distribution=info.latent)
    note = save_samples(request, out, generate_fixed_batch(graph, z, labels, info.batch), info.drawn, labels)
    print(f"msgan: {request.num} samples from {mindir} ('{info.model}' graph of batch {info.batch}, "
          f"epoch {info.epoch}, seed {request.seed}) written to {out}{note}", flush=True)
    return out


def save_samples(request: InferRequest, out: Path, samples: np.ndarray, drawn: Drawn,
                 labels: Optional[np.ndarray]) -> str:
    """Write the generator's float outputs (drawn as `labels`, for a conditional generator) as infer.py's files;
    return a note for the summary line.

    Images become uint8 pictures in a grid, one row per class with --digit all; the toy GAN's four numbers stay
    float32 and are drawn as heat strips.
    """
    shown = MAX_GRID_SIDE ** 2  # grid.png draws at most this many (with --digit all, a share of it per class)
    if drawn.kind == "pattern":
        grid, singles = heat_strip(samples[:shown]), [heat_strip(sample[None]) for sample in samples]
        mean = ", ".join(f"{v:.3f}" for v in samples.mean(axis=0))
        note = f"; mean output [{mean}] (the real pattern is near [1, 0, 1, 0])"
    else:
        samples = to_uint8(samples)
        first = samples[:shown]
        classes = len(drawn.classes or ())
        tiles, columns = class_rows(samples, labels, classes, shown // classes) if request.digit == "all" else (
            first, int(np.ceil(np.sqrt(len(first)))))
        grid, singles = make_grid(tiles, columns), list(samples)
        note = "" if labels is None else "; labels.npy holds the class of each"
    if len(samples) > shown:
        note += f"; grid.png shows {shown:,} of them" + (" (the first of each class)" if request.digit == "all" else "")
    png_dir = Path(request.png_dir).expanduser() if request.png_dir is not None else out
    write_samples(out, samples, grid, labels)
    if request.png or request.png_dir is not None:
        write_singles(png_dir, singles)
        note += f"; one PNG per sample in {png_dir}" if request.png_dir is not None else ""
    return note


def class_rows(samples: np.ndarray, labels: np.ndarray, classes: int,
               most: int = MAX_GRID_SIDE ** 2) -> tuple[np.ndarray, int]:
    """(tiles, columns) of a grid with one row per class: the first `most` samples of each class, then tiles of
    the frame's colour up to the width of the fullest row."""
    counts = np.minimum(np.bincount(labels, minlength=classes), most)
    columns = int(counts.max())
    tiles = np.full((classes * columns, *samples.shape[1:]), FRAME, dtype=samples.dtype)
    for label, count in enumerate(counts):
        tiles[label * columns:label * columns + count] = samples[labels == label][:count]
    return tiles, columns


def make_folder(out: Path, flag: str) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise MsganError(f"cannot create output folder {out} ({err.strerror}): pass another {flag}") from err


def write_samples(out: Path, samples: np.ndarray, grid: np.ndarray, labels: Optional[np.ndarray]) -> None:
    """grid.png, samples.npy, and labels.npy unless `labels` is None."""
    make_folder(out, "--out")
    save_png(grid, out / "grid.png")
    for name, array in (("samples.npy", samples), ("labels.npy", labels)):
        if array is not None:
            with atomic_path(out / name) as tmp:
                np.save(tmp, array)


def write_singles(folder: Path, singles: list[np.ndarray]) -> None:
    """One PNG per picture, sample_0.png, sample_1.png, … (numbered to the same width)."""
    make_folder(folder, "--png-dir")
    width = len(str(len(singles) - 1))
    for i, picture in enumerate(singles):
        save_png(picture, folder / f"sample_{i:0{width}d}.png")
