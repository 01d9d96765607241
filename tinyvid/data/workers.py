"""Decoding ahead of training: background workers that read videos while the step runs.

    reader = VideoReader(folder, workers=2, use_multiprocessing=True)
    reader.schedule([4, 9, 1])      # videos the next batches need, in the order they need them
    frames = reader.frames(4)       # waits for video 4 (or raises its VideoReadError)

FrameBatches uses one when given Keras's PyDataset arguments (workers > 1, or workers >= 1
with use_multiprocessing): its batches are still made in the main process, in order, from the
videos' frames, so the batches (and the trained weights) are the same for any number of
workers; only the waiting changes. What a worker does is `folder.read_frames(video)`: decode
(or load from the frame cache, and store in it).

Threads or processes:
- threads (use_multiprocessing=False) share the process: PyAV decodes without holding Python's
  lock, so a thread decodes while the training step runs in the main thread.
- processes are started with "spawn" (a fresh interpreter), never "fork": forking a process
  while another of its threads is inside a multi-threaded BLAS call can hang both processes
  (OpenBLAS's own locks are copied held). Each process gets a copy of the folder when it
  starts; frames come back through a queue. A worker ignores Ctrl-C: the main process gets it,
  and its workers (daemon processes and threads) end with it or with `close()`.

As with Keras's PyDataset and any "spawn" start, a script that uses processes must start its
work under `if __name__ == "__main__":` (each new process imports the script's main module).

An error in a worker is sent back and raised in the main process when that video's frames are
asked for: the same VideoReadError, naming the file.
"""

import multiprocessing
import pickle
import queue
import signal
import threading
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinyvid.data import cache as cache_module

START_METHOD = "spawn"
PARENT_CHECK_SECONDS = 1.0  # how often an idle worker process checks that the main one lives


class VideoReader:
    """Reads a VideoFolder's videos in background workers, in the order they are scheduled.

    Args:
        folder: a VideoFolder (copied into each process when use_multiprocessing).
        workers: how many threads or processes read at once, >= 1.
        use_multiprocessing: processes (started with "spawn") instead of threads.
    """

    def __init__(self, folder: Any, workers: int, use_multiprocessing: bool) -> None:
        self.folder, self.workers = folder, workers
        self.use_multiprocessing = use_multiprocessing
        self._pending: set[int] = set()      # scheduled, not yet returned
        self._done: dict[int, tuple[np.ndarray | None, BaseException | None]] = {}
        self._started = False
        self._closed = False
        self._tasks: Any = None
        self._results: Any = None
        self._handles: list[Any] = []

    def schedule(self, videos: Iterable[int]) -> None:
        """Ask for these videos to be read, in this order (ones asked for before are ignored)."""
        if self._closed:
            raise RuntimeError("VideoReader: scheduled after close()")
        self._start()
        for video in videos:
            video = int(video)
            if video not in self._pending and video not in self._done:
                self._pending.add(video)
                self._tasks.put(video)

    def has(self, video: int) -> bool:
        """Whether `video` was scheduled (and not yet taken with `frames`)."""
        return int(video) in self._pending or int(video) in self._done

    def frames(self, video: int) -> np.ndarray | None:
        """The frames of `video`, waiting for its worker; raises the error it met reading."""
        video = int(video)
        if video not in self._pending and video not in self._done:
            self.schedule([video])
        while video not in self._done:
            self._receive()
        frames, error = self._done.pop(video)
        if error is not None:
            raise error
        return frames

    def forget(self) -> None:
        """Drop frames read but not asked for (a new epoch reschedules what it needs)."""
        self._done.clear()

    def close(self) -> None:
        """Stop the workers: each ends after the video it is reading (processes are ended)."""
        if self._closed:
            return
        self._closed = True
        if not self._started:
            return
        try:  # drop the videos not started yet, so each worker sees its stop sign next
            while True:
                self._tasks.get_nowait()
        except (queue.Empty, OSError, ValueError):
            pass
        for _ in self._handles:
            self._tasks.put(None)
        for handle in self._handles:
            handle.join(timeout=5)
            if self.use_multiprocessing and handle.is_alive():
                handle.terminate()
        self._handles.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass  # at interpreter exit the queues may already be gone

    def _start(self) -> None:
        if self._started:
            return
        self._started = True
        if self.use_multiprocessing:
            context: Any = multiprocessing.get_context(START_METHOD)
            self._tasks, self._results = context.Queue(), context.Queue()
            make = context.Process
        else:
            self._tasks, self._results = queue.Queue(), queue.Queue()
            make = threading.Thread  # type: ignore[assignment]
        for _ in range(self.workers):
            handle = make(target=_work, args=(self.folder, self._tasks, self._results,
                                              self.use_multiprocessing), daemon=True)
            handle.start()
            self._handles.append(handle)

    def _receive(self) -> None:
        while True:
            try:
                video, frames, error, notes = self._results.get(timeout=1.0)
                break
            except queue.Empty:
                if not any(handle.is_alive() for handle in self._handles):
                    raise RuntimeError(f"VideoReader: all {self.workers} workers have died "
                                       f"(see their output above)") from None
        for folder, kind, message in notes:
            cache_module.report(folder, kind, message)  # said once, here, not once per worker
        self._pending.discard(video)
        self._done[video] = (frames, error)


def _work(folder: Any, tasks: Any, results: Any, in_process: bool) -> None:
    """A worker's loop: read each video asked for, send back (video, frames, error, notes).

    A worker process also ends by itself, within PARENT_CHECK_SECONDS, once the main process is
    gone however it went (Ctrl-C, a crash, SIGKILL), without waiting to hand over frames nobody
    will read: orphaned workers would otherwise wait on the queues forever, each holding the
    other's pipe open (so the results pipe never breaks), and keep the main process's stdout
    and stderr open too.
    """
    notes: list[tuple[str, str, str]] = []
    parent = None
    if in_process:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
        cache_module._collecting = notes
        parent = multiprocessing.parent_process()
    while True:
        try:
            video = tasks.get(timeout=PARENT_CHECK_SECONDS)
        except queue.Empty:
            if parent is not None and not parent.is_alive():
                results.cancel_join_thread()  # exit now, with no one left to read the frames
                return
            continue
        except (EOFError, OSError):  # the main process closed the queue's pipe: it is gone
            results.cancel_join_thread()
            return
        if video is None:
            return
        frames, error = None, None
        try:
            frames = folder.read_frames(video)
        except Exception as caught:
            error = caught if not in_process else _picklable(caught)
        results.put((video, frames, error, list(notes)))
        notes.clear()


def _picklable(error: Exception) -> Exception:
    """The error itself when it survives pickling (VideoReadError does), else a RuntimeError
    that carries its type and message."""
    try:
        pickle.loads(pickle.dumps(error))
        return error
    except Exception:
        return RuntimeError(f"{type(error).__name__}: {error}")
