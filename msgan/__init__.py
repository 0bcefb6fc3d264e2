"""msgan: train and sample generative adversarial networks with MindSpore."""
import os

# MindSpore logs every deprecation warning of its own internals at level WARNING; keep the
# console for msgan's own lines unless the user asked for more (GLOG_v=1 or 2).
os.environ.setdefault("GLOG_v", "3")

__version__ = "0.2.0"
