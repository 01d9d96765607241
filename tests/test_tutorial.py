"""docs/tutorial.md stays true.

The tutorial has four kinds of fenced blocks, and each is checked:

  ```python                      runs: all of them in order, in one namespace, in a temporary
                                 folder, with breakpoint() recording where it stopped
  ```text                        right after a python block: what that block prints ("..."
                                 stands for any text)
  ```python <file> [<object>]    an excerpt of tinyvid's code: must appear verbatim in that
                                 file (in that function or class, defined in that file,
                                 not inherited from another); a line "..." skips lines
  ```bash + ```console           the pdb sessions: the command runs from the repository root
                                 with the (Pdb) commands of the transcript on stdin, and the
                                 transcript's lines must appear in order ("/.../" for a path,
                                 "(...)" and ":..." for the line numbers pdb prints, which the
                                 tutorial leaves out so that edits elsewhere do not break it)

Other bash blocks are shown, not run. Runtime: a few seconds, plus one short subprocess per
pdb session.
"""

import contextlib
import importlib
import inspect
import io
import os
import pathlib
import re
import shlex
import subprocess
import sys
import tempfile
import traceback

import pytest

import tinyvid

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial.md"
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.S | re.M)


class Block:
    def __init__(self, info, body, line):
        self.info, self.body, self.line = info.strip(), body, line  # line: of the opening fence
        self.kind = self.info.split()[0] if self.info else ""

    def __repr__(self):
        return f"docs/tutorial.md:{self.line} ```{self.info}"


def read_blocks():
    text = TUTORIAL.read_text(encoding="utf-8")
    return [Block(m.group(1), m.group(2), text.count("\n", 0, m.start()) + 1)
            for m in FENCE.finditer(text)]


def runnable(blocks):
    return [b for b in blocks if b.info == "python"]


def output_matches(expected, actual):
    """`expected` with each "..." standing for any text, against `actual` (ends stripped)."""
    strip = lambda s: "\n".join(line.rstrip() for line in s.strip().splitlines())  # noqa: E731
    pattern = ".*?".join(re.escape(part) for part in strip(expected).split("..."))
    return re.fullmatch(pattern, strip(actual), flags=re.S) is not None


# --- the python blocks run, in order, and print what the tutorial says ------------------------


def test_the_python_blocks_run_in_order_and_print_what_the_text_shows(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib", reason="the tutorial draws a loss curve with matplotlib")
    blocks = read_blocks()
    assert len(runnable(blocks)) >= 20, "the tutorial lost its examples?"

    stops = []  # one entry per breakpoint() reached: (function name, its local variables)

    def record_breakpoint(*args, **kwargs):
        frame = sys._getframe(1)
        stops.append((frame.f_code.co_name, dict(frame.f_locals)))

    monkeypatch.chdir(tmp_path)  # the tutorial writes docs/images/*.png and graph.dot here
    monkeypatch.setattr(sys, "breakpointhook", record_breakpoint)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # mkdtemp() under tmp_path
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # A learner runs the tutorial in a fresh Python session, where the first Dense layer is
    # named 'dense'; other tests in this process have made layers already, so start the names
    # again as a fresh session would (Keras's clear_session).
    tinyvid.utils.clear_session()

    namespace = {"__name__": "__tutorial__"}
    previous, printed = None, ""
    for number, block in enumerate(blocks, start=1):
        if block.info == "text":
            assert previous is not None and previous.info == "python", (
                f"{block}: a text block must follow a python block (it is what that block prints)")
            assert output_matches(block.body, printed), (
                f"python block at docs/tutorial.md:{previous.line} printed\n{printed}\n"
                f"but the text block at line {block.line} says\n{block.body}")
        if block.info == "python":
            # Padding with newlines makes tracebacks point at the tutorial's own line numbers.
            code = compile("\n" * block.line + block.body, str(TUTORIAL), "exec")
            out = io.StringIO()
            try:
                with contextlib.redirect_stdout(out):
                    exec(code, namespace)
            except Exception:
                pytest.fail(f"python block {len([b for b in blocks[:number] if b.info == 'python'])} "
                            f"(docs/tutorial.md:{block.line}) raised:\n{traceback.format_exc()}")
            printed = out.getvalue()
        previous = block

    # The plot of section 5 was drawn (here, not over docs/images/).
    assert (tmp_path / "docs" / "images" / "gd_vs_sgd.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "graph.dot").read_text().startswith("digraph")

    # Every breakpoint() of the tutorial was reached, and the one of section 7.5 stopped inside
    # Conv2D's backward, where grad_output and ctx are what the text says.
    written = sum(b.body.count("breakpoint()") for b in runnable(blocks))
    assert written and len({name for name, _ in stops}) == written, stops
    from tinyvid.nn import conv

    in_conv = [local for _, local in stops if isinstance(local.get("ctx"), conv.Conv2D)]
    assert [local["grad_output"].shape for local in in_conv] == [(2, 12, 12, 64), (2, 14, 14, 32)]
    assert [tuple(a.shape for a in local["ctx"].saved_tensors) for local in in_conv] == [
        ((2, 14, 14, 32), (3, 3, 32, 64)), ((2, 16, 16, 3), (3, 3, 3, 32))]
    assert conv.Conv2D.backward.__name__ == "backward"  # the tutorial put the real one back


# --- the code it quotes is still the code -----------------------------------------------------


def _module_for(path):
    """tinyvid/training/losses.py -> tinyvid.training.losses; kernels/conv.py -> tinyvid.kernels.conv."""
    parts = list(pathlib.PurePosixPath(path).with_suffix("").parts)
    if parts[0] == "kernels":
        parts.insert(0, "tinyvid")
    return importlib.import_module(".".join(parts))


def test_every_quoted_excerpt_is_still_verbatim_in_the_named_file_and_function():
    excerpts = [b for b in read_blocks() if b.kind == "python" and b.info != "python"]
    assert len(excerpts) >= 10
    for block in excerpts:
        _, path, *name = block.info.split()
        assert (ROOT / path).is_file(), f"{block}: no file {path}"
        source = (ROOT / path).read_text(encoding="utf-8")
        if name:
            obj = _module_for(path)
            for attribute in name[0].split("."):
                obj = getattr(obj, attribute, None)
                assert obj is not None, f"{block}: {path} has no {name[0]}"
            # An inherited method is found through its subclass too; the text names its home.
            home = pathlib.Path(inspect.getsourcefile(obj)).resolve()
            assert home == (ROOT / path).resolve(), (
                f"{block}: {name[0]} is defined in {home}, not in {path}")
            source = inspect.getsource(obj)
        # Lines "..." skip; the pieces between them must appear in order.
        pieces = re.split(r"^[ \t]*\.\.\.[ \t]*\n", block.body, flags=re.M)
        start = 0
        for piece in pieces:
            found = source.find(piece, start)
            assert found >= 0, (f"{block}: this excerpt is no longer in {path}"
                                f"{' (' + name[0] + ')' if name else ''}:\n{piece}")
            start = found + len(piece)


def test_the_images_it_shows_exist_and_are_small():
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", TUTORIAL.read_text(encoding="utf-8"))
    assert images
    for image in images:
        path = TUTORIAL.parent / image
        assert path.is_file(), f"docs/tutorial.md shows {image}, which does not exist"
        assert path.stat().st_size < 100_000, f"{image} is {path.stat().st_size} bytes; keep images small"


# --- the debugger sessions it prints are what the debugger does -------------------------------


def _pdb_sessions():
    """(bash command, console transcript) for each `python -m pdb` block followed by a console."""
    blocks = read_blocks()
    return [(b.body.strip(), after.body) for b, after in zip(blocks, blocks[1:])
            if b.kind == "bash" and "-m pdb" in b.body and after.kind == "console"]


def _line_pattern(line):
    """A transcript line as a regex: "/.../" any path; "file.py(...)" and "file.py:..." any line
    number (pdb prints "file.py(115)backward()" and "Breakpoint 1 at file.py:113")."""
    pattern = re.escape(line.strip())
    if "/.../" in line:
        pattern = pattern.replace(re.escape("/.../"), r"\S*/")
        pattern = pattern.replace(re.escape(".py(...)"), r"\.py\(\d+\)")
        if pattern.endswith(re.escape(".py:...")):
            pattern = pattern[:-len(re.escape(":..."))] + r":\d+"
    return pattern


def test_the_pdb_transcripts_carry_no_line_numbers():
    """Line numbers in a transcript go stale with any edit above them; the tutorial writes
    "(...)" and ":..." instead, which _line_pattern reads as any number."""
    for _, transcript in _pdb_sessions():
        numbered = re.findall(r"\.py(?:\(\d+\)|:\d+)", transcript)
        assert not numbered, f"a pdb transcript in docs/tutorial.md shows line numbers: {numbered}"


def test_every_pdb_command_shown_is_one_whose_session_is_checked():
    checked = {command for command, _ in _pdb_sessions()}
    shown = {b.body.strip() for b in read_blocks() if b.kind == "bash" and "-m pdb" in b.body}
    assert shown == checked  # e.g. the "In a hurry?" command at the top is the one of 7.5


# The tutorial's pdb sessions, in the order it shows them (section 7.5, 7.6, 8.2, 9.4).
SESSIONS = ["stop-in-Conv2D.backward", "step-into-kernel", "stop-in-gru_step_backward",
            "step-into-Conv3D.backward"]


@pytest.mark.parametrize("session", range(len(SESSIONS)), ids=SESSIONS)
def test_the_pdb_sessions_shown_work_as_written_from_the_repository_root(session):
    sessions = _pdb_sessions()
    assert len(sessions) == len(SESSIONS), f"expected {len(SESSIONS)} pdb sessions: {SESSIONS}"
    run_pdb_session(*sessions[session])


def run_pdb_session(command, transcript):
    """Run a pdb command as the tutorial shows it, feed it the transcript's (Pdb) lines, and
    fail unless it prints the transcript's other lines in order."""
    env = dict(os.environ, PYTHONBREAKPOINT="0")
    words = shlex.split(command)
    while "=" in words[0]:  # NUMBA_DISABLE_JIT=1 python ...
        key, value = words.pop(0).split("=", 1)
        env[key] = value
    assert words[0] == "python"
    commands = [line.strip()[len("(Pdb) "):] for line in transcript.splitlines()
                if line.strip().startswith("(Pdb) ")]
    result = subprocess.run([sys.executable, *words[1:]], cwd=ROOT, env=env, text=True,
                            input="\n".join(commands + ["q", ""]), capture_output=True,
                            timeout=300)
    # pdb prints its prompt without a newline and does not echo what it reads.
    lines = [line.strip() for line in result.stdout.replace("(Pdb) ", "\n").splitlines()]
    position = 0
    for expected in transcript.splitlines():
        if expected.strip().startswith("(Pdb)") or expected.strip() in ("", "..."):
            continue
        pattern = re.compile(_line_pattern(expected))
        for i in range(position, len(lines)):
            if pattern.fullmatch(lines[i]):
                position = i + 1
                break
        else:
            pytest.fail(f"`{command}` did not print, in order, the line\n{expected}\n"
                        f"of the tutorial's transcript. It printed:\n{result.stdout}\n{result.stderr}")
