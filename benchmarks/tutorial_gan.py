"""The MindSpore MNIST GAN tutorial's networks and train step, as the tutorial writes them: the baseline
that bench_train.py measures msgan against. Run in PyNative mode, as the tutorial is."""
from __future__ import annotations

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore import dtype as mstype

from timing import rate  # benchmarks/timing.py

LATENT_SIZE = 100
IMG_SIZE = 28
LR = 0.0002


class Generator(nn.Cell):
    def __init__(self, latent_size, auto_prefix=True):
        super(Generator, self).__init__(auto_prefix=auto_prefix)
        self.model = nn.SequentialCell()
        self.model.append(nn.Dense(latent_size, 128))
        self.model.append(nn.ReLU())
        self.model.append(nn.Dense(128, 256))
        self.model.append(nn.BatchNorm1d(256))
        self.model.append(nn.ReLU())
        self.model.append(nn.Dense(256, 512))
        self.model.append(nn.BatchNorm1d(512))
        self.model.append(nn.ReLU())
        self.model.append(nn.Dense(512, 1024))
        self.model.append(nn.BatchNorm1d(1024))
        self.model.append(nn.ReLU())
        self.model.append(nn.Dense(1024, IMG_SIZE * IMG_SIZE))
        self.model.append(nn.Tanh())

    def construct(self, x):
        image = self.model(x)
        image = ops.reshape(image, (-1, 1, IMG_SIZE, IMG_SIZE))
        return image


class Discriminator(nn.Cell):
    def __init__(self, auto_prefix=True):
        super().__init__(auto_prefix=auto_prefix)
        self.model = nn.SequentialCell()
        self.model.append(nn.Dense(IMG_SIZE * IMG_SIZE, 512))
        self.model.append(nn.LeakyReLU())
        self.model.append(nn.Dense(512, 256))
        self.model.append(nn.LeakyReLU())
        self.model.append(nn.Dense(256, 1))
        self.model.append(nn.Sigmoid())

    def construct(self, x):
        x = ops.reshape(x, (-1, IMG_SIZE * IMG_SIZE))
        return self.model(x)


def tutorial_train_step():
    """The tutorial's networks, loss, optimizers and train_step(real_data, latent_code) -> (loss_d, loss_g):
    (train_step, net_g), G for saving as the tutorial does (tests/test_checkpoints.py loads such a file)."""
    net_g = Generator(LATENT_SIZE)
    net_g.update_parameters_name("generator")
    net_d = Discriminator()
    net_d.update_parameters_name("discriminator")
    adversarial_loss = nn.BCELoss(reduction="mean")
    optimizer_d = nn.Adam(net_d.trainable_params(), learning_rate=LR, beta1=0.5, beta2=0.999)
    optimizer_g = nn.Adam(net_g.trainable_params(), learning_rate=LR, beta1=0.5, beta2=0.999)
    optimizer_g.update_parameters_name("optim_g")
    optimizer_d.update_parameters_name("optim_d")
    net_g.set_train()  # as the tutorial does before its loop: BatchNorm normalises by batch and keeps statistics
    net_d.set_train()

    def generator_forward(test_noises):
        fake_data = net_g(test_noises)
        fake_out = net_d(fake_data)
        loss_fake = adversarial_loss(fake_out, ops.ones_like(fake_out))
        return loss_fake

    def discriminator_forward(real_data, test_noises):
        fake_data = net_g(test_noises)
        fake_out = net_d(fake_data)
        real_out = net_d(real_data)
        real_loss = adversarial_loss(real_out, ops.ones_like(real_out))
        fake_loss = adversarial_loss(fake_out, ops.zeros_like(fake_out))
        loss_d = real_loss + fake_loss
        return loss_d

    grad_g = ms.value_and_grad(generator_forward, None, net_g.trainable_params())
    grad_d = ms.value_and_grad(discriminator_forward, None, net_d.trainable_params())

    def train_step(real_data, latent_code):
        loss_d, grads_d = grad_d(real_data, latent_code)
        optimizer_d(grads_d)
        loss_g, grads_g = grad_g(latent_code)
        optimizer_g(grads_g)
        return loss_d, loss_g

    return train_step, net_g


def steps_per_second(batch_size: int, steps: int, warmup: int = 2) -> float:
    """The tutorial's loop body on in-memory batches: fresh NumPy noise each step, both losses fetched."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_device("CPU")
    train_step, _ = tutorial_train_step()
    images = np.random.default_rng(0).uniform(-1, 1, (8 * batch_size, 1, IMG_SIZE, IMG_SIZE)).astype(np.float32)
    g_losses, d_losses = [], []

    def one(i):
        image = Tensor(images[(i % 8) * batch_size:(i % 8 + 1) * batch_size])
        latent_code = Tensor(np.random.normal(size=(batch_size, LATENT_SIZE)), dtype=mstype.float32)
        d_loss, g_loss = train_step(image, latent_code)
        d_losses.append(d_loss.asnumpy())
        g_losses.append(g_loss.asnumpy())

    return rate(one, steps, warmup)
