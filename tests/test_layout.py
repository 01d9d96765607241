"""The house: the layout, the import graph, the old import paths, and nothing process-wide on import.

Checks that follow the code rather than a list kept by hand: the modules are found by walking
the packages, the import graph is read from the sources, the paths the docs name are looked up on
disk.
"""

import ast
import importlib
import importlib.util
import os
import pathlib
import pkgutil
import re
import subprocess
import sys

import pytest

import tinyvid
import tinyvid.kernels

ROOT = pathlib.Path(__file__).resolve().parent.parent


def all_modules():
    """Every module of tinyvid and tinyvid.kernels (installed from kernels/), by walking them."""
    names = ["tinyvid", "tinyvid.kernels"]
    names += [m.name for m in pkgutil.walk_packages(tinyvid.__path__, "tinyvid.")]
    names += [m.name for m in pkgutil.walk_packages(tinyvid.kernels.__path__, "tinyvid.kernels.")]
    return sorted(set(names))


def fresh_python(script, env=None, timeout=300):
    """Run `script` in a new interpreter from the repository root; return its stdout."""
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, text=True,
                          capture_output=True, timeout=timeout)
    assert done.returncode == 0, f"the fresh interpreter failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


# --- (d) the folders are the architecture -----------------------------------------------------


def test_tinyvid_itself_holds_at_most_a_dozen_modules_the_rest_live_in_subpackages():
    modules = sorted(p.name for p in (ROOT / "tinyvid").glob("*.py"))
    assert len(modules) <= 12, f"tinyvid/ holds {len(modules)} modules: {modules}"
    folders = {p.parent.name for p in (ROOT / "tinyvid").glob("*/__init__.py")}
    assert {"data", "autograd", "nn", "layers", "models", "training"} <= folders
    assert (ROOT / "kernels" / "__init__.py").is_file()  # a top-level folder, as tinyvid.kernels
    assert (ROOT / "tinyvid" / "py.typed").is_file()


def test_the_walk_finds_every_module_on_disk():
    """all_modules() is what the import tests below rely on: it must see every .py file."""
    on_disk = {p for p in (ROOT / "tinyvid").rglob("*.py")} | {p for p in (ROOT / "kernels").rglob("*.py")}
    found = {pathlib.Path(importlib.util.find_spec(name).origin) for name in all_modules()}
    assert on_disk == found


# --- (b) no import cycle ------------------------------------------------------------------------


def _module_level_imports(name):
    """The tinyvid modules `name` imports at module level (imports inside functions run later and
    cannot take part in a cycle at import time)."""
    spec = importlib.util.find_spec(name)
    tree = ast.parse(pathlib.Path(spec.origin).read_text(encoding="utf-8"))
    package = name if spec.submodule_search_locations else name.rpartition(".")[0]
    known = set(all_modules())
    found = set()

    def statements(body):
        for node in body:
            yield node
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue  # imports for annotations only: they never run
            if isinstance(node, (ast.If, ast.Try)):  # still module level
                yield from statements(node.body)
                yield from statements(node.orelse)
                for handler in getattr(node, "handlers", []):
                    yield from statements(handler.body)
                yield from statements(getattr(node, "finalbody", []))

    for node in statements(tree.body):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            for alias in node.names:
                if f"{base}.{alias.name}" in known:  # from tinyvid import datasets: a module
                    found.add(f"{base}.{alias.name}")
                elif base in known:
                    found.add(base)
    found.discard(name)
    return found


def test_the_module_level_import_graph_has_no_cycle():
    graph = {name: _module_level_imports(name) for name in all_modules()}
    assert graph["tinyvid.autograd.ops"] >= {"tinyvid.autograd.function"}  # the reader works
    done, on_path = set(), []

    def visit(name):  # depth-first; a module met again while on the path closes a cycle
        if name in on_path:
            cycle = on_path[on_path.index(name):] + [name]
            pytest.fail("import cycle: " + " -> ".join(cycle))
        if name in done:
            return
        on_path.append(name)
        for imported in sorted(graph[name]):
            visit(imported)
        on_path.pop()
        done.add(name)

    for name in graph:
        visit(name)


def test_every_module_imports_in_a_fresh_interpreter_whichever_comes_first():
    """A fresh interpreter imports any module of tinyvid by running tinyvid/__init__.py first
    (Python imports a package before its modules), so "module X imported first" is always
    `import tinyvid` followed by X: one interpreter checks every entry point. That no order can
    meet a partly initialised module is what the import-graph test above shows."""
    script = f"""
import importlib, sys
import tinyvid.autograd.ops       # the issue's example: ops before tensor, in a fresh interpreter
import tinyvid.ops, tinyvid.tensor, tinyvid.nn_ops     # the old paths
failed = []
for name in {all_modules()!r}:
    try:
        importlib.import_module(name)
    except Exception as error:
        failed.append(f"{{name}}: {{type(error).__name__}}: {{error}}")
print("FAILED" if failed else "done", *failed, sep="\\n")
"""
    out = fresh_python(script)
    assert out.strip() == "done", out


# --- (c) the old public paths still work ---------------------------------------------------------


def test_every_old_public_import_path_still_works():
    import tinyvid.callbacks
    import tinyvid.datasets
    import tinyvid.debug
    import tinyvid.functional
    import tinyvid.losses
    import tinyvid.nn_ops
    import tinyvid.ops
    import tinyvid.optimizers
    import tinyvid.tensor
    import tinyvid.video
    from tinyvid.layers import Conv2D, Dense, Flatten
    from tinyvid.models import Sequential

    assert tinyvid.tensor.Tensor is tinyvid.Tensor
    assert tinyvid.ops.MatMul.__module__ == "tinyvid.autograd.ops"
    assert tinyvid.nn_ops.Conv2D is tinyvid.nn.conv.Conv2D
    assert tinyvid.video.read_video is tinyvid.read_video
    assert tinyvid.functional.conv2d is tinyvid.nn.conv2d
    assert callable(tinyvid.debug.graph) and callable(tinyvid.debug.detect_anomaly)
    assert tinyvid.losses.CategoricalCrossentropy and tinyvid.optimizers.Adam
    assert tinyvid.callbacks.EarlyStopping and tinyvid.datasets.VideoFolder
    assert callable(tinyvid.gradcheck) and tinyvid.GradcheckError
    assert Sequential is tinyvid.models.Sequential
    assert {Conv2D.__name__, Dense.__name__, Flatten.__name__} == {"Conv2D", "Dense", "Flatten"}
    from tinyvid.tensor import Function, is_grad_enabled, no_grad  # where they lived before

    assert Function is tinyvid.Function and no_grad is tinyvid.no_grad
    assert is_grad_enabled is tinyvid.is_grad_enabled


def test_every_name_a_public_face_exports_exists():
    for face in ("activations", "callbacks", "datasets", "debug", "functional", "initializers",
                 "losses", "metrics", "optimizers"):
        module = importlib.import_module(f"tinyvid.{face}")
        missing = [name for name in module.__all__ if not hasattr(module, name)]
        assert module.__all__ and not missing, f"tinyvid.{face}: {missing}"


# --- (a, e) nothing process-wide on import; fit tunes the process, and says so ------------------

SPY = r"""
import ctypes, json, os, sys

touched = []  # every attribute looked up on a C library loaded through ctypes.CDLL


class SpyCDLL(ctypes.CDLL):
    def __getattr__(self, name):
        touched.append(name)
        return super().__getattr__(name)


ctypes.CDLL = SpyCDLL
before = dict(os.environ)
modules_before = set(sys.modules)
"""


def _env_without_tuning_choices():
    env = dict(os.environ)
    for name in ("NUMBA_THREADING_LAYER", "TINYVID_KEEP_FREED_MEMORY", "NUMBA_DISABLE_JIT"):
        env.pop(name, None)
    return env


def test_import_tinyvid_leaves_os_environ_and_malloc_alone_and_fit_tunes_only_when_allowed():
    script = SPY + r"""
import numpy as np

import tinyvid
from tinyvid.kernels import process
from tinyvid.layers import Dense
from tinyvid.models import Sequential

report = {"environ_changed": dict(os.environ) != before, "touched_on_import": list(touched),
          "tuned_on_import": process.is_tuned()}
import numba
report["layer_on_import"] = numba.config.THREADING_LAYER

x = np.random.default_rng(0).random((8, 3), dtype=np.float32)
y = np.eye(2, dtype=np.float32)[[0, 1] * 4]
model = Sequential([Dense(2, activation="softmax", input_shape=(3,))])
model.compile(optimizer="sgd", loss="categorical_crossentropy")

tinyvid.kernels.set_training_tuning(False)
model.fit(x, y, epochs=1, verbose=0)
report.update(environ_changed_by_fit_off=dict(os.environ) != before,
              touched_by_fit_off=list(touched), tuned_by_fit_off=process.is_tuned())

tinyvid.kernels.set_training_tuning(True)
print("FIT OUTPUT")
model.fit(x, y, epochs=1, verbose=1)
print("END FIT OUTPUT")
report.update(touched_by_fit=list(touched), tuned_by_fit=process.is_tuned(),
              layer_after_fit=os.environ.get("NUMBA_THREADING_LAYER"))
print(json.dumps(report))
"""
    out = fresh_python(script, env=_env_without_tuning_choices())
    report = __import__("json").loads(out.strip().splitlines()[-1])
    # import: nothing process-wide
    assert report["environ_changed"] is False
    assert "mallopt" not in report["touched_on_import"]
    assert report["tuned_on_import"] is False
    assert report["layer_on_import"] == "default"
    # fit with the tuning turned off: still nothing
    assert report["environ_changed_by_fit_off"] is False
    assert "mallopt" not in report["touched_by_fit_off"]
    assert report["tuned_by_fit_off"] is False
    # fit allowed to tune: it does, and its verbose output says so (this also shows the spy
    # above would have seen a mallopt call on import)
    fit_output = out.split("FIT OUTPUT")[1].split("END FIT OUTPUT")[0]
    assert "tuned this process for training" in fit_output
    assert "set_training_tuning(False)" in fit_output
    assert report["tuned_by_fit"] is True
    assert report["layer_after_fit"] == "workqueue"
    if sys.platform.startswith("linux") and os.path.exists("/lib/x86_64-linux-gnu/libc.so.6"):
        assert "mallopt" in report["touched_by_fit"]


def test_tune_for_training_respects_a_threading_layer_you_chose(monkeypatch):
    from tinyvid.kernels import process

    monkeypatch.setattr(process, "_applied", None)  # as in a process not tuned yet
    monkeypatch.setenv("NUMBA_THREADING_LAYER", "omp")
    monkeypatch.setenv("TINYVID_KEEP_FREED_MEMORY", "0")
    applied = process.tune_for_training()
    assert applied["threading_layer"] == "yours: omp"
    assert applied["malloc"].startswith("defaults")
    assert os.environ["NUMBA_THREADING_LAYER"] == "omp"
    assert "yours: omp" in process.describe_tuning(applied)


# --- the docs point at files that exist ----------------------------------------------------------

DOCS = ["README.md", "docs/tutorial.md", "docs/performance.md"]
PATH = re.compile(r"(?<![\w/.])((?:tinyvid|kernels|tests|benchmarks|docs)/[\w/.-]*\w)")


@pytest.mark.parametrize("doc", DOCS)
def test_every_repository_path_a_doc_names_exists(doc):
    text = (ROOT / doc).read_text(encoding="utf-8")
    text = re.sub(r"^```console\n.*?^```", "", text, flags=re.S | re.M)  # pdb's /.../ paths
    text = re.sub(r"\S*<\w+>\S*", "", text)  # patterns such as tests/layers/test_<family>.py
    missing = sorted({p for p in PATH.findall(text) if not (ROOT / p).exists()})
    assert not missing, f"{doc} names paths that do not exist: {missing}"
    assert "shared/seed" not in text


def _readme_tree():
    """The paths of the folder tree in the README's "Reading the code" (a ```text block)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Reading the code"):]
    block = re.search(r"^```text\n(.*?)^```", section, flags=re.S | re.M).group(1)
    paths, folders = [], []  # folders: (indent, path) of the folders the next lines sit in
    for line in block.splitlines():
        indent = len(line) - len(line.lstrip())
        names = re.split(r",\s*", re.split(r"\s{2,}", line.strip())[0].rstrip(","))
        names = [n.split()[0] for n in names if n]
        if not names or not all(n.endswith((".py", "/")) for n in names):
            continue  # a description carried on from the line above
        while folders and folders[-1][0] >= indent:
            folders.pop()
        parent = folders[-1][1] if folders else ""
        for name in names:
            paths.append(parent + name)
        if names[0].endswith("/"):
            folders.append((indent, parent + names[0]))
    return paths


def test_the_readme_reading_map_is_the_folder_tree_and_names_every_module():
    tree = _readme_tree()
    missing_on_disk = [p for p in tree if not (ROOT / p).exists()]
    assert not missing_on_disk, f"the README's tree names what is not there: {missing_on_disk}"
    modules = [p.relative_to(ROOT).as_posix() for folder in ("tinyvid", "kernels")
               for p in (ROOT / folder).rglob("*.py") if not p.name.startswith("_")]
    left_out = sorted(set(modules) - set(tree))
    assert not left_out, f"the README's tree leaves out {left_out}"
    # in the order data flows: data, the engine, the ops, their kernels, layers, models, training
    order = ["tinyvid/data/", "tinyvid/autograd/", "tinyvid/nn/", "kernels/", "tinyvid/layers/",
             "tinyvid/models/", "tinyvid/training/", "tinyvid/cli.py"]
    assert [tree.index(p) for p in order] == sorted(tree.index(p) for p in order)
