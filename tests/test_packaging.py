"""The package list in pyproject.toml covers every package, so a wheel leaves nothing out.

Editable installs find sub-packages on disk anyway, so a forgotten one only shows up in a real
(non-editable) install: this test catches it before a user does.
"""

import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_every_package_folder_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    listed = set(config["packages"])
    package_dir = config["package-dir"]
    on_disk = set()
    for name, folder in (("tinyvid", "tinyvid"), ("tinyvid.kernels", "kernels")):
        assert package_dir[name] == folder
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            on_disk.add(".".join((name, *relative)))
    assert on_disk == listed
