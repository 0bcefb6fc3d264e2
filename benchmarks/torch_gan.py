"""The tutorial's MLP GAN step in PyTorch eager, as a speed reference (run only where torch is installed)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from timing import rate  # benchmarks/timing.py


def generator(latent_dim: int = 100) -> nn.Module:
    """The MindSpore tutorial's generator, layer for layer."""
    def block(n_in, n_out):
        return [nn.Linear(n_in, n_out), nn.BatchNorm1d(n_out), nn.ReLU()]
    return nn.Sequential(nn.Linear(latent_dim, 128), nn.ReLU(), *block(128, 256), *block(256, 512),
                         *block(512, 1024), nn.Linear(1024, 784), nn.Tanh())


def discriminator() -> nn.Module:
    """The MindSpore tutorial's discriminator, layer for layer."""
    return nn.Sequential(nn.Linear(784, 512), nn.LeakyReLU(0.2), nn.Linear(512, 256), nn.LeakyReLU(0.2),
                         nn.Linear(256, 1), nn.Sigmoid())


def steps_per_second(batch_size: int, steps: int, warmup: int = 5) -> float:
    """Steps/s of the usual PyTorch GAN step (one G forward, D then G updated) on in-memory data."""
    torch.manual_seed(0)
    g, d = generator(), discriminator()
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    bce = nn.BCELoss()
    rng = np.random.default_rng(0)
    real = torch.from_numpy(rng.uniform(-1, 1, (8 * batch_size, 784)).astype(np.float32))
    ones, zeros = torch.ones(batch_size, 1), torch.zeros(batch_size, 1)

    def step(i):
        x = real[(i % 8) * batch_size:(i % 8 + 1) * batch_size]
        fake = g(torch.randn(batch_size, 100))
        opt_d.zero_grad()
        loss_d = (bce(d(x), ones) + bce(d(fake.detach()), zeros)) / 2
        loss_d.backward()
        opt_d.step()
        opt_g.zero_grad()
        loss_g = bce(d(fake), ones)
        loss_g.backward()
        opt_g.step()
        return loss_d.item(), loss_g.item()  # the loop logs both, as the tutorial's does

    return rate(step, steps, warmup)


if __name__ == "__main__":
    print(torch.__version__, torch.get_num_threads())
    for b in (64, 256, 1024):
        print(b, round(steps_per_second(b, 100 if b < 1024 else 30), 1))
