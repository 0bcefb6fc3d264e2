"""Export a trained generator as MINDIR: `python export.py --run runs/X` or `--ckpt FILE [--batch N]`."""
import sys

from msgan.cli import export_main

if __name__ == "__main__":
    sys.exit(export_main())
