"""The `tinyvid` command: the demo end to end on a tiny setting, predict, and one-line errors."""

import json
import pathlib
import subprocess
import sys

import pytest

from tinyvid.cli import main


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One tiny demo run (2 motion videos per class, 1 epoch per model) shared by the tests below."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("demo")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        status = main(["demo", "--out", str(out), "--epochs", "1", "--videos-per-class", "2"])
    (out / "printed.txt").write_text(printed.getvalue())
    return status, out


def test_demo_trains_both_models_reports_and_saves_everything(demo_run):
    status, out = demo_run
    assert status == 0
    for model in ("single_frame", "slow_fusion"):
        for name in ("model.weights.npz", "model.json", "history.json"):
            assert (out / model / name).is_file(), (model, name)
        history = json.loads((out / model / "history.json").read_text())
        assert set(history["history"]) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert 0.0 <= history["video_accuracy"] <= 1.0
        meta = json.loads((out / model / "model.json").read_text())
        assert meta["model"] == model and meta["classes"][0] == "anticlockwise"
    assert "frame_accuracy" in json.loads((out / "single_frame" / "history.json").read_text())
    demo = json.loads((out / "demo.json").read_text())
    assert set(demo["video_accuracy"]) == {"single_frame", "slow_fusion"}


def test_demo_prints_both_accuracies_side_by_side(demo_run):
    _, out = demo_run
    lines = (out / "printed.txt").read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("validation accuracy per "
                                                                      "video on the motion"))
    assert lines[start + 1].split()[0] == "single_frame"
    assert lines[start + 2].split()[0] == "slow_fusion"


def test_demo_saves_png_plots_when_matplotlib_is_installed(demo_run):
    pytest.importorskip("matplotlib")
    _, out = demo_run
    for path in (out / "demo.png", out / "slow_fusion" / "history.png",
                 out / "slow_fusion" / "confusion.png"):
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def test_predict_prints_the_top_classes_of_each_video(demo_run, capsys):
    _, out = demo_run
    video = sorted((out / "motion-shapes" / "left").glob("*.mp4"))[0]
    for model in ("single_frame", "slow_fusion"):
        capsys.readouterr()
        assert main(["predict", str(out / model / "model.weights.npz"), str(video), "--top",
                     "2"]) == 0
        line = capsys.readouterr().out.strip()
        assert line.startswith(f"{video}: ") and line.count(",") == 1


def test_predict_on_an_unreadable_video_is_one_clear_line(demo_run, tmp_path, capsys):
    _, out = demo_run
    garbage = tmp_path / "broken.mp4"
    garbage.write_bytes(b"not a video at all" * 10)
    assert main(["predict", str(out / "slow_fusion" / "model.weights.npz"), str(garbage)]) == 2
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
    for option in ("--frames", "--size", "--epochs", "--batch-size", "--out", "--learning-rate",
                   "--model", "cnn_gru", "--sampling"):
        assert option in result.stdout


# --- issue 15: arguments, the output folder, model.json, NaN losses (items 15-20) ---------------


@pytest.fixture(scope="module")
def tiny_tree(tmp_path_factory):
    """Two classes of three 16x16 videos: enough for `tinyvid train` to run in a second."""
    from tinyvid.datasets import make_moving_shapes

    root = tmp_path_factory.mktemp("tree") / "shapes"
    return make_moving_shapes(root, videos_per_class=3, num_frames=4, size=16,
                              classes=("red_circle", "blue_square"))


def train_args(root, out, *extra):
    return ["train", str(root), "--out", str(out), "--frames", "2", "--size", "8", "--epochs", "1",
            "--batch-size", "4", *extra]


@pytest.fixture(scope="module")
def trained(tiny_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("trained")
    assert main(train_args(tiny_tree, out)) == 0
    return out


def test_item_15_the_cli_stops_when_the_loss_becomes_nan(tiny_tree, tmp_path, monkeypatch, capsys):
    import numpy as np

    from tinyvid import cli

    def nan_model(num_classes, frame_size):
        model = build(num_classes, frame_size)
        model.layers[-1].weights[1].data[:] = np.nan
        return model

    build = cli.build_model
    monkeypatch.setattr(cli, "build_model", nan_model)
    assert main(train_args(tiny_tree, tmp_path / "out", "--epochs", "3")) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err == ("tinyvid train: error: the loss became nan at epoch 1, batch 1: training stopped "
                   "and nothing was saved (try a lower --learning-rate)")
    assert not (tmp_path / "out" / "model.weights.npz").exists()


@pytest.mark.parametrize("option, value, message", [
    ("--learning-rate", "inf", "--learning-rate must be a finite positive number, got inf"),
    ("--learning-rate", "nan", "--learning-rate must be a finite positive number, got nan"),
    ("--learning-rate", "-0.1", "--learning-rate must be a finite positive number, got -0.1"),
    ("--size", "4", "--size must be at least 5"),
    ("--seed", "-1", "--seed must be 0 or more, got -1"),
    ("--batch-size", "0", "--batch-size must be positive, got 0"),
])
def test_item_16_every_argument_is_checked_before_any_work(tmp_path, capsys, option, value, message):
    with pytest.raises(SystemExit) as exit_info:  # the root does not even exist: not looked at
        main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), option, value])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_item_17_an_unwritable_out_is_found_before_training(tiny_tree, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    assert main(train_args(tiny_tree, blocker / "out")) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"tinyvid train: error: {blocker / 'out'}: cannot be the output "
                                    f"folder: {blocker} is a file")
    assert "classes" not in captured.out  # the tree was never scanned


def test_item_17_a_read_only_out_is_found_before_training(tiny_tree, tmp_path, capsys, monkeypatch):
    import errno
    import os

    from tinyvid import cli

    out = tmp_path / "read-only"
    out.mkdir()

    def read_only(path, *args, **kwargs):  # what EROFS or a folder without write permission gives
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    monkeypatch.setattr(cli.os, "open", read_only)
    assert main(train_args(tiny_tree, out)) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == (f"tinyvid train: error: [Errno 30] {out}: cannot write the "
                                    f"output folder (Read-only file system); choose another --out")
    assert "classes" not in captured.out and list(out.iterdir()) == []


@pytest.mark.parametrize("text, problem", [
    ("{}", "missing 'classes', 'frame_size', 'num_frames'"),
    ("{\"classes\": [\"a\"], ", "invalid JSON (Expecting property name enclosed in double quotes at line 1"),
    ("[1, 2]", "expected an object"),
    ('{"classes": [], "frame_size": 8, "num_frames": 2}', "'classes' must be a non-empty list"),
    ('{"classes": ["a", "b"], "frame_size": 8.5, "num_frames": 2}', "'frame_size' must be an integer"),
])
def test_item_18_a_broken_model_json_is_one_line_naming_the_file(trained, tmp_path, capsys, text, problem):
    import shutil

    shutil.copy(trained / "model.weights.npz", tmp_path / "model.weights.npz")
    (tmp_path / "model.json").write_text(text)
    video = sorted(trained.parent.glob("tree*/shapes/red_circle/*.mp4"))[0]
    assert main(["predict", str(tmp_path / "model.weights.npz"), str(video)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith(f"tinyvid predict: error: {tmp_path / 'model.json'}: not a model.json "
                          f"written by `tinyvid train`: ")
    assert problem in err


def test_item_19_a_single_class_is_warned_about(tmp_path, capsys):
    from tinyvid.datasets import make_moving_shapes

    root = make_moving_shapes(tmp_path / "one", videos_per_class=3, num_frames=4, size=16,
                              classes=("red_circle",))
    assert main(train_args(root, tmp_path / "out")) == 0
    err = capsys.readouterr().err
    assert "tinyvid: warning: " in err and "only one class" in err


def test_item_20_an_interrupt_before_model_json_leaves_the_previous_run_whole(tiny_tree, tmp_path,
                                                                            monkeypatch, capsys):
    from tinyvid import cli

    out = tmp_path / "out"
    assert main(train_args(tiny_tree, out)) == 0
    names = ("model.weights.npz", "model.json", "history.json")
    before = {name: (out / name).read_bytes() for name in names}
    write_json = cli._write_json

    def interrupted(path, data):
        if path.name == "model.json":
            raise KeyboardInterrupt
        write_json(path, data)

    monkeypatch.setattr(cli, "_write_json", interrupted)
    assert main(train_args(tiny_tree, out, "--seed", "1")) == 130  # other weights
    assert {name: (out / name).read_bytes() for name in names} == before
    assert not (out / cli.STAGING_FOLDER).exists()


def test_item_20_predict_refuses_new_weights_beside_an_old_model_json(tiny_tree, tmp_path,
                                                                     monkeypatch, capsys):
    from tinyvid import cli

    out = tmp_path / "out"
    assert main(train_args(tiny_tree, out)) == 0
    replace = cli.os.replace

    def stop_before_model_json(source, target):
        if pathlib.Path(target) == out / "model.json":  # publishing: the weights are moved already
            raise KeyboardInterrupt
        replace(source, target)

    monkeypatch.setattr(cli.os, "replace", stop_before_model_json)
    assert main(train_args(tiny_tree, out, "--seed", "1")) == 130
    monkeypatch.undo()
    video = sorted(tiny_tree.glob("red_circle/*.mp4"))[0]
    capsys.readouterr()
    assert main(["predict", str(out / "model.weights.npz"), str(video)]) == 2
    assert "these are not the weights" in capsys.readouterr().err


def test_train_takes_workers_and_a_cache_bound():
    from tinyvid.cli import _byte_count, _parser

    args = _parser().parse_args(["train", "videos", "--workers", "0", "--cache-max-bytes", "2G"])
    assert args.workers == 0 and args.cache_max_bytes == 2 * 1024**3
    assert _parser().parse_args(["train", "videos"]).workers == 2  # decoding ahead by default
    assert [_byte_count(t) for t in ("500M", "64k", "1000")] == [500 * 1024**2, 65536, 1000]


# --- issues 11 and 12: --model, clip models, model.json, the confusion matrix -------------------


@pytest.fixture(scope="module")
def short_and_long_tree(tmp_path_factory):
    """Two classes of 16x16 videos, some of 3 frames and some of 6: clips of 4 are padded."""
    from tinyvid.datasets import make_motion_shapes

    base = tmp_path_factory.mktemp("clips")
    long = make_motion_shapes(base / "long", videos_per_class=3, num_frames=6, size=16,
                              classes=("left", "right"))
    short = make_motion_shapes(base / "short", videos_per_class=2, num_frames=3, size=16,
                               seed=1, classes=("left", "right"))
    for video in short.glob("*/*.mp4"):  # one tree: 5 videos a class, 2 of them short
        video.rename(long / video.parent.name / f"short_{video.name}")
    return long


def clip_args(root, out, model, *extra):
    return ["train", str(root), "--out", str(out), "--model", model, "--frames", "4", "--size",
            "16", "--epochs", "2", "--batch-size", "4", *extra]


@pytest.mark.parametrize("model", ["cnn_gru", "cnn_lstm", "early_fusion"])
def test_train_and_predict_a_clip_model(short_and_long_tree, tmp_path, capsys, model):
    out = tmp_path / "out"
    assert main(clip_args(short_and_long_tree, out, model)) == 0
    printed = capsys.readouterr().out
    assert f"model {model}" in printed and "per video (one clip per video)" in printed
    assert "confusion matrix of the validation videos" in printed
    meta = json.loads((out / "model.json").read_text())
    assert (meta["model"], meta["num_frames"], meta["frame_size"], meta["sampling"]) == (
        model, 4, 16, "even")
    history = json.loads((out / "history.json").read_text())
    assert len(history["history"]["loss"]) == 2 and history["model"] == model
    matrix = history["confusion_matrix"]
    assert len(matrix) == 2 and sum(map(sum, matrix)) == history["num_videos"]
    video = sorted(short_and_long_tree.glob("left/short_*.mp4"))[0]  # 3 frames: padded to 4
    assert main(["predict", str(out / "model.weights.npz"), str(video), "--top", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(f"{video}: ") and line.split()[-2] in ("left", "right")


def test_the_confusion_png_is_written_beside_history_png(short_and_long_tree, tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "out"
    assert main(clip_args(short_and_long_tree, out, "cnn_gru", "--sampling", "segments")) == 0
    for name in ("history.png", "confusion.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "model.json").read_text())["sampling"] == "segments"


def test_single_frame_is_the_default_and_records_its_name(trained):
    meta = json.loads((trained / "model.json").read_text())
    assert meta["model"] == "single_frame"
    assert "confusion_matrix" in json.loads((trained / "history.json").read_text())


def test_an_old_model_json_without_model_means_single_frame(trained, tiny_tree, tmp_path, capsys):
    import shutil

    shutil.copy(trained / "model.weights.npz", tmp_path / "model.weights.npz")
    meta = json.loads((trained / "model.json").read_text())
    del meta["model"], meta["sampling"]
    (tmp_path / "model.json").write_text(json.dumps(meta))
    video = sorted(tiny_tree.glob("red_circle/*.mp4"))[0]
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "model.weights.npz"), str(video)]) == 0
    assert capsys.readouterr().out.startswith(f"{video}: ")


@pytest.mark.parametrize("extra, message", [
    (("--model", "slow_fusion", "--frames", "4"), "--model slow_fusion needs --frames 8 or more"),
    (("--model", "c3d", "--size", "8"), "--model c3d needs --size 16 or more, got 8"),
    (("--model", "resnet"), "invalid choice: 'resnet'"),
    (("--sampling", "random"), "invalid choice: 'random'"),
])
def test_a_model_that_cannot_take_the_clips_is_refused_before_any_work(tmp_path, capsys, extra,
                                                                       message):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"), *extra])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_predict_refuses_a_model_json_naming_an_unknown_model(trained, tiny_tree, tmp_path,
                                                              capsys):
    import shutil

    shutil.copy(trained / "model.weights.npz", tmp_path / "model.weights.npz")
    meta = json.loads((trained / "model.json").read_text())
    (tmp_path / "model.json").write_text(json.dumps({**meta, "model": "resnet"}))
    video = sorted(tiny_tree.glob("red_circle/*.mp4"))[0]
    assert main(["predict", str(tmp_path / "model.weights.npz"), str(video)]) == 2
    assert "'model' must be one of single_frame, early_fusion" in capsys.readouterr().err
