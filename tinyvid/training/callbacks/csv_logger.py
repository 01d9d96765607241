"""CSVLogger: one row per epoch (the epoch and its logs) in a CSV file."""

from __future__ import annotations

import csv
import os
from typing import IO, Any

from tinyvid.training.callbacks.base import Callback


class CSVLogger(Callback):
    """Write `epoch` and each epoch's logs as a row of a CSV file, as Keras does: the columns
    are the sorted log keys (and their 'val_' twins when the first epoch had no validation), a
    missing value is written 'NA', and the file is flushed after each row.

    Args:
        filename: the CSV file.
        separator: the field separator. Default ','.
        append: add to an existing file (without a second header) instead of replacing it.
    """

    chief_only = True  # under DataParallel rank 0 alone writes (the weights agree)

    def __init__(self, filename: str | os.PathLike[str], separator: str = ",",
                 append: bool = False) -> None:
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys: list[str] | None = None
        self.csv_file: IO[str] | None = None
        self.writer: Any = None
        self.append_header = True

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        mode = "w"
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as existing:
                    self.append_header = not existing.readline()
            mode = "a"
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        try:
            self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")
        except OSError as error:
            raise OSError(f"CSVLogger: cannot open '{self.filename}': {error}") from error
        self.writer, self.keys = None, None

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        if self.csv_file is None:
            raise ValueError("CSVLogger: on_train_begin opens the file; it was not called")
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch", *self.keys],
                                         delimiter=self.sep, lineterminator="\r\n")
            if self.append_header:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{key: logs.get(key, "NA") for key in self.keys}})
        self.csv_file.flush()  # a killed run keeps every finished epoch's row

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None
