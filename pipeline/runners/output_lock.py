"""The output dir's lock: one writer of a local output dir at a time (a
pipeline run, or a rollback of its serving dir). TensorFlow-free, so that
`rollback` takes it without importing the runners."""

import contextlib
import fcntl
import os

LOCK_FILE = ".run.lock"


class Busy(RuntimeError):
    """Another process holds the output dir."""


@contextlib.contextmanager
def exclusive(output_dir: str):
    """Holds the output dir's lock.

    An advisory `flock` on `<output-dir>/.run.lock`. The kernel releases it
    when the holding process ends, however it ends, so a crashed or killed
    run never leaves it held; the file only records the last holder's pid.

    Raises:
      Busy: another process holds the lock.
    """
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(output_dir, LOCK_FILE)
    with open(path, "a+", encoding="utf-8") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "?"
            raise Busy(
                f"another pipeline run or rollback (pid {holder}) is using "
                f"{output_dir}; wait for it to finish, or use another "
                "--output-dir.") from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
