"""VideoFolder's classes (issue 15, item 19): a single class is warned about, and a class none of
whose videos can be read is left out, the same way in every split."""

import pytest

from tinyvid.datasets import VideoFolder, make_moving_shapes


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_moving_shapes(tmp_path_factory.mktemp("classes") / "shapes", videos_per_class=3,
                              num_frames=4, size=16, classes=("blue_square", "red_circle"))


def test_item_19_a_single_class_gives_a_warning(tree, tmp_path):
    import shutil

    shutil.copytree(tree / "red_circle", tmp_path / "one" / "red_circle")
    with pytest.warns(UserWarning, match="only one class"):
        folder = VideoFolder(tmp_path / "one", num_frames=2, size=(8, 8))
    assert folder.classes == ["red_circle"]


def test_item_19_a_class_whose_videos_all_fail_is_left_out_in_every_split(tree, tmp_path):
    import shutil

    root = tmp_path / "root"
    shutil.copytree(tree, root)
    (root / "broken").mkdir()
    for i in range(3):
        (root / "broken" / f"clip{i}.mp4").write_bytes(b"not a video" * 50)
    (root / "empty").mkdir()
    for split in ("train", "validation", None):
        with pytest.warns(UserWarning, match=r"left out the class\(es\) 'broken', 'empty'"):
            folder = VideoFolder(root, num_frames=2, size=(8, 8), split=split)
        assert folder.classes == ["blue_square", "red_circle"]
        assert sorted(set(folder.labels.tolist())) == [0, 1]
        assert all(folder.classes[label] in str(path)
                   for path, label in zip(folder.videos, folder.labels))


def test_item_19_a_class_with_a_readable_video_only_in_the_other_split_is_kept(tree, tmp_path):
    import shutil
    import warnings

    root = tmp_path / "root"
    shutil.copytree(tree, root)
    (root / "one_video").mkdir()
    shutil.copy(tree / "red_circle" / "red_circle_0000.mp4", root / "one_video" / "a.mp4")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing to warn about: the class has a training video
        validation = VideoFolder(root, num_frames=2, size=(8, 8), split="validation")
    assert validation.classes == ["blue_square", "one_video", "red_circle"]
