"""Draw digits from a generator checkpoint: `python infer.py --run runs/X` or `--ckpt FILE`."""
import sys

from msgan.cli import infer_main

if __name__ == "__main__":
    sys.exit(infer_main())
