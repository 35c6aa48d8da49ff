"""Packaging guards: every package directory is installed, and core never imports the Lightning glue."""

from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _listed_packages() -> set[str]:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return set(cfg["tool"]["setuptools"]["packages"])


def test_every_package_directory_is_listed_in_pyproject() -> None:
    found = set()
    for base, prefix in ((ROOT / "rdmetrics", "rdmetrics"), (ROOT / "integrations", "rdmetrics.integrations")):
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([prefix, *rel.parts]))
    missing = found - _listed_packages()
    assert not missing, f"add these packages to [tool.setuptools] packages in pyproject.toml: {sorted(missing)}"


def test_core_does_not_import_integrations_or_lightning() -> None:
    offenders = []
    for path in (ROOT / "rdmetrics").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                if root in ("lightning", "pytorch_lightning") or name.startswith("rdmetrics.integrations"):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    # the CLI demo may drive Lightning lazily inside a function; everything else must stay Lightning-free
    offenders = [o for o in offenders if not o.startswith("rdmetrics/demo.py")]
    assert not offenders, f"core modules import Lightning glue: {offenders}"


def test_import_is_light() -> None:
    code = (
        "import sys, rdmetrics, rdmetrics.functional;"
        "heavy = [m for m in ('lightning', 'timm', 'matplotlib') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"`import rdmetrics` pulled in optional dependencies: {out}"


def test_public_names_resolve() -> None:
    import rdmetrics
    import rdmetrics.functional as F

    for mod in (rdmetrics, F):
        for name in mod._EXPORTS:
            assert getattr(mod, name) is not None, f"{mod.__name__}.{name} does not resolve"


@pytest.mark.parametrize("package", ["rdmetrics", "rdmetrics.functional", "rdmetrics.extractors"])
def test_type_checking_imports_mirror_the_lazy_exports(package: str) -> None:
    """Lazy (PEP 562) exports are invisible to mypy/pyright/IDEs unless spelled out under ``if TYPE_CHECKING:``; the
    two lists must name the same objects from the same modules."""
    import importlib

    module = importlib.import_module(package)
    tree = ast.parse(pathlib.Path(module.__file__).read_text())
    typed: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom) and imp.module, "only `from module import name` lines here"
                for alias in imp.names:
                    assert alias.asname in (None, alias.name), f"{alias.name} re-exported under another name"
                    typed[alias.name] = imp.module
    lazy = dict(module._EXPORTS)
    missing = sorted(set(lazy) - set(typed))
    extra = sorted(set(typed) - set(lazy))
    assert not missing, f"{package}: add to its `if TYPE_CHECKING:` block: {missing}"
    assert not extra, f"{package}: in `if TYPE_CHECKING:` but not in _EXPORTS: {extra}"
    wrong = {name: (typed[name], lazy[name]) for name in lazy if typed[name] != lazy[name]}
    assert not wrong, f"{package}: TYPE_CHECKING module differs from _EXPORTS: {wrong}"


def test_lightning_utilities_is_a_declared_dependency() -> None:
    """The core imports ``lightning_utilities`` (rdmetrics/utilities/imports.py): it must be a declared dependency, not
    something that happens to come with torchmetrics."""
    tomllib = pytest.importorskip("tomllib")
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {d.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip().lower() for d in deps}
    imported = set()
    for path in (ROOT / "rdmetrics").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
            elif isinstance(node, ast.Import):
                imported.update(a.name.split(".")[0] for a in node.names)
    assert "lightning_utilities" in imported
    assert "lightning-utilities" in names, f"declare lightning-utilities in [project] dependencies: {sorted(names)}"
