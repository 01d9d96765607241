"""model.summary(): Keras's table of layers, output shapes and parameter counts.

    Model: "sequential"
    ┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
    ┃ Layer (type)                      ┃ Output Shape               ┃       Param # ┃
    ┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
    │ dense (Dense)                     │ (None, 16)                 │            80 │
    └───────────────────────────────────┴────────────────────────────┴───────────────┘

A functional model's table has a fourth column, "Connected to": each input of each call of the
layer as `layer_name[node_index][tensor_index]`, one a line, and a rule between the layers.
"""

from collections.abc import Callable
from typing import Any

SEQUENTIAL_WIDTHS = (33, 26, 13)
FUNCTIONAL_WIDTHS = (29, 20, 10, 22)


def print_summary(name: str, rows: list[tuple], total: int, trainable: int,
                  print_fn: Callable[[str], Any]) -> None:
    """Print the table. `rows` hold (layer (type), output shape, params) for a Sequential model,
    plus a list of connections for a functional one."""
    functional = bool(rows) and len(rows[0]) == 4
    widths = FUNCTIONAL_WIDTHS if functional else SEQUENTIAL_WIDTHS
    header = ("Layer (type)", "Output Shape", "Param #") + (("Connected to",) if functional else ())

    def line(left: str, mid: str, right: str, fill: str = "━") -> str:
        return left + mid.join(fill * (w + 2) for w in widths) + right

    def row(cells: tuple, edge: str = "│") -> str:
        parts = []
        for i, (cell, width) in enumerate(zip(cells, widths)):
            parts.append(f" {cell:>{width}} " if i == 2 else f" {cell:<{width}} ")
        return edge + edge.join(parts) + edge

    print_fn(f'Model: "{name}"')
    print_fn(line("┏", "┳", "┓"))
    print_fn(row(header, edge="┃"))
    print_fn(line("┡", "╇", "┩"))
    for number, cells in enumerate(rows):
        if functional and number:
            print_fn(line("├", "┼", "┤", fill="─"))
        for cell_line in _cell_lines(cells, widths):
            print_fn(row(cell_line))
    print_fn(line("└", "┴", "┘", fill="─"))
    totals = (("Total", total), ("Trainable", trainable), ("Non-trainable", total - trainable))
    for label, count in totals:
        print_fn(f" {label} params: {count:,} ({readable_size(count * 4)})")


def _cell_lines(cells: tuple, widths: tuple[int, ...]) -> list[tuple[str, ...]]:
    """The printed lines of one row: a name too long for its column breaks before " (", and
    each connection takes a line of its own (ending in "," but the last), as Keras prints them."""
    columns: list[list[str]] = []
    for cell, width in zip(cells, widths):
        if isinstance(cell, list):
            columns.append([c + ("," if i < len(cell) - 1 else "") for i, c in enumerate(cell)])
        elif len(cell) > width and " (" in cell:
            head, _, tail = cell.partition(" (")
            columns.append([head, "(" + tail])
        else:
            columns.append([cell])
    height = max(len(column) for column in columns)
    return [tuple(column[i] if i < len(column) else "" for column in columns) for i in range(height)]


def readable_size(num_bytes: float) -> str:
    """'56.33 MB', as Keras prints parameter memory (1 KB = 1024 B)."""
    for unit in ("B", "KB", "MB", "GB"):
        if num_bytes < 1024 or unit == "GB":
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} GB"
