"""Training in a process of its own, so that its memory goes back to the system when it ends.

TensorFlow keeps most of what training allocated after the Keras models are gone (clearing
the session, collecting garbage and trimming malloc give back little). ``graphrec train``
evaluates the model next, in numpy, and that evaluation would otherwise start on top of
it, as would the models fitted after NeuMF. ``train_in_worker`` runs
:func:`graphrec.model.train.train` in spawned processes: the caller never imports
TensorFlow, and whatever training held is gone before the evaluation.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np

from graphrec import memory
from graphrec.errors import GraphrecError
from graphrec.model import artifacts
from graphrec.model.artifacts import NeuMFConfig

# An interrupted caller first waits for a worker interrupted with it (Ctrl-C reaches the
# whole process group), then interrupts it, then gives it time to remove its unfinished model.
INTERRUPTED_WAIT_SECONDS = 5
STOP_GRACE_SECONDS = 60
CALLER_WATCH_SECONDS = 0.5  # how often a worker checks that its caller is still there
SEPARATE_STAGES_FROM_FOLLOWS = 1_000_000


class TrainingWorkerDied(GraphrecError):
    """The training process ended without a result (killed, or out of memory)."""

    def __init__(self, exitcode: int | None, model_dir: str | Path) -> None:
        if exitcode is not None and exitcode < 0:
            name = signal.Signals(-exitcode).name
            how = f"was killed by {name}" + (
                " (on Linux, most often the kernel, for lack of memory)"
                if name == "SIGKILL"
                else ""
            )
        else:
            how = f"exited with status {exitcode} without a result"
        super().__init__(f"the training process {how}; the model at {model_dir} is unchanged")


class _StderrToCaller(io.TextIOBase):
    """The worker's sys.stderr: each write goes to the caller, which writes it to its own
    sys.stderr (a terminal, a log, or whatever a test captured)."""

    def __init__(self, results: Connection, tty: bool) -> None:
        self.results, self.tty = results, tty

    def write(self, text: str) -> int:
        self.results.send(("stderr", text))
        return len(text)

    def isatty(self) -> bool:
        return self.tty


def _stop_with(caller: int) -> None:
    """Interrupt this worker once its caller is gone (killed): nobody would use what it trains,
    and ``train`` removes its unfinished model when interrupted."""
    while os.getppid() == caller:
        time.sleep(CALLER_WATCH_SECONDS)
    os.kill(os.getpid(), signal.SIGINT)


def _work(results: Connection, stage: str, args: tuple, tty: bool) -> None:
    """The worker's body: run ``stage`` of training (a function of graphrec.model.train) into
    the caller's staging folder, then send ("done", figures) or ("raised", exception)."""
    # a caller started in the background (nohup, cron, `&`) passes SIGINT on ignored, and
    # both _stop_with and the caller's _stop interrupt the worker with it
    signal.signal(signal.SIGINT, signal.default_int_handler)
    threading.Thread(target=_stop_with, args=(os.getppid(),), daemon=True).start()
    sys.stderr = _StderrToCaller(results, tty)
    try:
        from graphrec.model import train  # imports TensorFlow, here only

        outcome: tuple = ("done", getattr(train, stage)(*args))
    except BaseException as e:  # noqa: BLE001 - every failure goes back to the caller
        outcome = ("raised", e)
    try:
        try:
            results.send(("peak", memory.peak_rss_mb()))
            results.send(outcome)
        except (pickle.PicklingError, TypeError, AttributeError):  # send the traceback instead
            trace = "".join(traceback.format_exception(outcome[1]))
            results.send(("raised", RuntimeError(trace)))
    except OSError:  # the caller is gone
        pass
    finally:
        results.close()


def train_in_worker(
    src_uids: np.ndarray,
    dst_uids: np.ndarray,
    model_dir: str | Path,
    config: NeuMFConfig,
    holdout: bool = True,
    silent: bool = False,
) -> dict:
    """:func:`graphrec.model.train.train`, its fitting in two spawned processes, one after the
    other: NeuMF in the first, the models fitted beside it in the second, so that these do not
    start on top of what TensorFlow kept of NeuMF's. Below ``SEPARATE_STAGES_FROM_FOLLOWS``
    follows, what it kept is small and one process does both: a second would cost one more
    start of TensorFlow than it saves. The figures, or a worker's exception
    raised here. What the workers write to stderr (progress) is written to this process's
    stderr.

    The worker trains into a staging folder and this process publishes it, so only a
    caller that is still there publishes a model. Interrupting the caller interrupts the
    worker; a caller killed outright leaves a worker that interrupts itself.
    """

    def build(staged: Path) -> dict:
        neumf = (staged, src_uids, dst_uids, config, holdout, silent)
        if src_uids.size < SEPARATE_STAGES_FROM_FOLLOWS:
            return _in_worker("train_into", neumf, model_dir)
        _in_worker("fit_neumf_into", neumf, model_dir)
        return _in_worker("fit_beside_into", (staged, silent), model_dir)

    return artifacts.build_and_publish(model_dir, build)


def _in_worker(stage: str, args: tuple, model_dir: str | Path) -> dict:
    """``graphrec.model.train.<stage>(*args)`` in a spawned process, for the model that will
    be ``model_dir``."""
    context = multiprocessing.get_context("spawn")
    results, sender = context.Pipe(duplex=False)
    worker = context.Process(
        target=_work, args=(sender, stage, args, _tty()), name=f"graphrec-{stage}"
    )
    worker.start()
    sender.close()
    try:
        try:
            kind, value = results.recv()
            while kind in ("stderr", "peak"):
                if kind == "peak":  # its own, which getrusage would overstate
                    memory.note_child_peak(value)
                else:
                    sys.stderr.write(value)
                    sys.stderr.flush()
                kind, value = results.recv()
        except EOFError:
            worker.join()
            raise TrainingWorkerDied(worker.exitcode, model_dir) from None
        worker.join()
    finally:
        results.close()
        _stop(worker)
    if kind == "raised":
        raise value
    return value


def _tty() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _stop(worker: multiprocessing.process.BaseProcess) -> None:
    """Interrupt a worker still running (the caller was interrupted), then wait for it."""
    worker.join(INTERRUPTED_WAIT_SECONDS)
    if not worker.is_alive() or worker.pid is None:
        return
    os.kill(worker.pid, signal.SIGINT)
    worker.join(STOP_GRACE_SECONDS)
    if worker.is_alive():
        worker.kill()
        worker.join()
