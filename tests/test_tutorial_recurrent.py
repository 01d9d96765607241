"""docs/tutorial.md section 8 (GRU, LSTM and masks) stays true, checked by test_tutorial's rules.

Its python blocks run and print what its text blocks say, its excerpt is still verbatim in
tinyvid/nn/recurrent.py, and its pdb session, stopping inside the GRU's backward at one time
step, prints what the transcript shows.
"""

import contextlib
import inspect
import io
import re

import pytest

from tests.test_tutorial import (
    ROOT,
    _pdb_sessions,
    output_matches,
    read_blocks,
    run_pdb_session,
)
from tinyvid.nn import recurrent

SECTION, NEXT_SECTION = "## 8. Through time", "## 9."


def section_blocks():
    """The blocks of section 8 alone: section 9 has its own checks in test_tutorial.py."""
    text = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")
    start_line = text[:text.index("\n" + SECTION) + 1].count("\n") + 1
    end_line = text[:text.index("\n" + NEXT_SECTION) + 1].count("\n") + 1
    return [b for b in read_blocks() if start_line < b.line < end_line]


def test_the_blocks_checked_here_are_those_of_section_8_alone():
    lines = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8").splitlines()
    chapters = [(number, line) for number, line in enumerate(lines, start=1)
                if line.startswith("## ")]

    def chapter_of(block):
        return ([""] + [line for number, line in chapters if number < block.line])[-1]

    in_section_8 = [b.line for b in read_blocks() if chapter_of(b).startswith(SECTION)]
    assert in_section_8 and [b.line for b in section_blocks()] == in_section_8
    assert any(chapter_of(b).startswith(NEXT_SECTION) for b in read_blocks())  # 9 follows it


def test_the_section_python_blocks_print_what_its_text_blocks_say():
    blocks = section_blocks()
    assert any(b.info == "python" for b in blocks)
    namespace, printed = {"__name__": "__tutorial__"}, None
    for block in blocks:
        if block.info == "python":
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                exec(compile(block.body, "docs/tutorial.md", "exec"), namespace)
            printed = out.getvalue()
        elif block.info == "text":
            assert printed is not None and output_matches(block.body, printed), printed


def test_the_quoted_gate_derivatives_are_still_the_code():
    source = inspect.getsource(recurrent.gru_step_backward)
    excerpts = [b for b in section_blocks() if b.info == "python tinyvid/nn/recurrent.py "
                                                              "gru_step_backward"]
    assert excerpts
    for piece in re.split(r"^[ \t]*\.\.\.[ \t]*\n", excerpts[0].body, flags=re.M):
        assert piece in source, piece


@pytest.mark.slow
def test_the_pdb_session_stops_inside_the_gru_backward_at_one_time_step():
    sessions = [s for s in _pdb_sessions() if "gru_step_backward" in s[0]]
    assert len(sessions) == 1
    command, transcript = sessions[0]
    assert not re.search(r":\d+", command), "a breakpoint by name, not by line number"
    run_pdb_session(command, transcript)  # tests/test_tutorial.py's runner

