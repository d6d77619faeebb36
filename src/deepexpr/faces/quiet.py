"""The one place that silences mediapipe/TFLite/absl log noise.

mediapipe 0.10.14 prints, from C++, "INFO: Created TensorFlow Lite XNNPACK delegate", "WARNING:
All log messages before absl::InitializeLog() ..." and two "inference_feedback_manager" lines
straight to file descriptor 2 when a graph starts; GLOG_minloglevel / TF_CPP_MIN_LOG_LEVEL
(set here before mediapipe is imported) do not stop them. So a graph is built and run once
with descriptor 2 pointed at /dev/null; later calls print nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", message=".*SymbolDatabase.GetPrototype.*")


@contextlib.contextmanager
def native_logs_silenced():
    """Point descriptor 2 at /dev/null for the block (Python's own errors are raised, not
    printed, so nothing the user needs is lost)."""
    if os.environ.get("DEEPEXPR_NATIVE_LOGS") == "1":  # debugging mediapipe itself
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
