"""Score digits with msgan's classifier: `python eval.py --run runs/X`, `--ckpt FILE`, `--real` or `--samples FILE.npy`."""
import sys

from msgan.cli import eval_main

if __name__ == "__main__":
    sys.exit(eval_main())
