"""Train a GAN: `python train.py --help` lists the settings."""
import sys

from msgan.cli import train_main

if __name__ == "__main__":
    sys.exit(train_main())
