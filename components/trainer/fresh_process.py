"""The Trainer's fresh process (see executor.py):

  python -m components.trainer.fresh_process REQUEST [PARENT_PID]

REQUEST is a path or a URI (a TFJob replica's, tfjob.py). Started by a
parent (workers.py), it asks Linux to end it when that parent ends (a run
killed mid-training leaves no orphan training on); a TFJob replica has no
parent of its own but its pod. It defers `tfx.components`
(components/tfx_imports.py) before anything imports TFX, as the commands
do, then trains as the request says.
"""

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def end_with_parent(parent_pid: int) -> None:
    """SIGKILL this process when its parent ends (and now, if it already
    has: then this process's parent is no longer `parent_pid`)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG)")
    if os.getppid() != parent_pid:
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv) -> None:
    if len(argv) > 2:
        end_with_parent(int(argv[2]))
    from components import tfx_imports  # pylint: disable=import-outside-toplevel
    tfx_imports.lazy_tfx_components()
    # After the deferral: the executor imports TFX's Trainer.
    from components.trainer import executor  # pylint: disable=import-outside-toplevel
    executor.train(argv[1])


if __name__ == "__main__":
    main(sys.argv)
