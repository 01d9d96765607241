"""The `tinyvid` command: the demo end to end on a tiny setting, predict, and one-line errors."""

import json
import subprocess
import sys

import pytest

from tinyvid.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One tiny demo run (3 videos per class, 1 epoch) shared by the tests below."""
    out = tmp_path_factory.mktemp("demo")
    status = main(["demo", "--out", str(out), "--epochs", "1", "--videos-per-class", "3"])
    return status, out


def test_demo_trains_reports_and_saves_everything(demo_run, capsys):
    status, out = demo_run
    assert status == 0
    for name in ("model.weights.npz", "model.json", "history.json"):
        assert (out / name).is_file(), name
    history = json.loads((out / "history.json").read_text())
    assert set(history["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert 0.0 <= history["video_accuracy"] <= 1.0 and 0.0 <= history["frame_accuracy"] <= 1.0
    assert json.loads((out / "model.json").read_text())["classes"][0] == "blue_triangle"


def test_demo_saves_a_png_plot_when_matplotlib_is_installed(demo_run):
    pytest.importorskip("matplotlib")
    _, out = demo_run
    assert (out / "history.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_predict_prints_the_top_classes_of_each_video(demo_run, capsys):
    _, out = demo_run
    video = sorted((out / "moving-shapes" / "red_circle").glob("*.mp4"))[0]
    capsys.readouterr()
    assert main(["predict", str(out / "model.weights.npz"), str(video), "--top", "2"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{video}: ") and line.count(",") == 1


def test_predict_on_an_unreadable_video_is_one_clear_line(demo_run, tmp_path, capsys):
    _, out = demo_run
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"not a video at all" * 10)
    assert main(["predict", str(out / "model.weights.npz"), str(garbage)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("tinyvid predict: error:") and "broken.mp4" in err and "\n" not in err


def test_train_on_a_missing_folder_is_one_clear_line(tmp_path, capsys):
    assert main(["train", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"tinyvid train: error: {tmp_path / 'nowhere'}: no such folder"


def test_bad_option_values_are_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", ".", "--epochs", "0"])
    assert exit_info.value.code == 2
    assert "--epochs must be positive, got 0" in capsys.readouterr().err


def test_the_console_script_explains_every_option():
    result = subprocess.run([sys.executable, "-m", "tinyvid.cli", "train", "--help"],
                            capture_output=True, text=True, check=True)
    for option in ("--frames", "--size", "--epochs", "--batch-size", "--out", "--learning-rate"):
        assert option in result.stdout


def test_train_takes_workers_and_a_cache_bound():
    from tinyvid.cli import _byte_count, _parser

    args = _parser().parse_args(["train", "videos", "--workers", "0", "--cache-max-bytes", "2G"])
    assert args.workers == 0 and args.cache_max_bytes == 2 * 1024**3
    assert _parser().parse_args(["train", "videos"]).workers == 2  # decoding ahead by default
    assert [_byte_count(t) for t in ("500M", "64k", "1000")] == [500 * 1024**2, 65536, 1000]
