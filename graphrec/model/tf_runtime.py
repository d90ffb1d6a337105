"""The one place TensorFlow and Keras are imported, so that a user sees only graphrec's output.

TensorFlow's C++ start-up lines (absl's "All log messages before absl::InitializeLog()",
oneDNN's notice) are written straight to file descriptor 2 while the library loads, before
``TF_CPP_MIN_LOG_LEVEL`` is read, so the import runs with descriptor 2 captured: dropped when
the import succeeds, replayed when it fails. Python-side TensorFlow and absl logs are then
limited to errors (retracing notices and the like are not something a user can act on).
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _import_quietly() -> None:
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as captured:
            os.dup2(captured.fileno(), 2)
            try:
                import keras  # noqa: F401
                import tensorflow  # noqa: F401
            except BaseException:
                os.dup2(saved, 2)
                captured.seek(0)
                sys.stderr.buffer.write(captured.read())
                sys.stderr.flush()
                raise
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


_import_quietly()

import absl.logging  # noqa: E402
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

tf.get_logger().setLevel(logging.ERROR)
absl.logging.set_verbosity(absl.logging.ERROR)

__all__ = ["keras", "tf"]
