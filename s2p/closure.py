"""The code closure of a module: the project's own files it imports, read from the source (ast).

DVC stages depend on exactly the code they run (pipeline/dvcgen.py) and a bento packs and hashes
exactly the code its model needs (pipeline/package.py): both ask here. Imports inside functions
count (the project imports heavy libraries where they are used); imports of other packages
(numpy, torch, sklearn) are not files of the project and are left out.
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: The project's own top-level packages (pyproject's setuptools list).
PACKAGES = ("s2p", "pipeline", "tasks", "flows", "models", "scheduler", "serving")


def module_file(module: str, root: Path = ROOT) -> Path | None:
    """The file of a project module (``models.phase1.pca.model``), or None for another package's."""
    if module.split(".")[0] not in PACKAGES:
        return None
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1])  # a module's package, and an __init__.py's own


@functools.cache
def _imports(path: Path, root: Path) -> tuple[str, ...]:
    """Modules ``path`` imports (absolute names, relative imports resolved), with each package on
    the way (importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` too)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _package_of(path, root)
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append(module)
            found += [f"{module}.{alias.name}" for alias in node.names]  # `from pkg import module`
    expanded = set()
    for name in found:
        parts = name.split(".")
        expanded.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return tuple(sorted(expanded))


def closure(modules: list[str] | tuple[str, ...], root: Path = ROOT) -> set[Path]:
    """Every project file that importing ``modules`` reads."""
    seen: set[Path] = set()
    packages = {".".join(m.split(".")[:i]) for m in modules for i in range(1, len(m.split(".")) + 1)}
    stack = [path for path in (module_file(m, root) for m in sorted(packages)) if path is not None]
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path, root):
            found = module_file(module, root)
            if found is not None and found not in seen:
                stack.append(found)
    return seen


def module_of(import_path: str) -> str:
    """``"models.phase1.pca.model:PCA"`` -> ``"models.phase1.pca.model"``."""
    return import_path.partition(":")[0]


def third_party_imports(paths) -> set[str]:
    """Top-level names of the packages (not the project's, not the standard library's) ``paths`` import."""
    import sys

    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(Path(path).read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in PACKAGES and name not in sys.stdlib_module_names}


def requirements(modules, root: Path = ROOT) -> list[str]:
    """The pinned distributions (``torch==2.13.0``) the code closure of ``modules`` imports: what a
    registered model and its bento need, read from what is installed here."""
    from importlib import metadata

    distributions = metadata.packages_distributions()
    pinned = set()
    for name in third_party_imports(closure(modules, root)):
        for distribution in distributions.get(name, ()):
            version = metadata.version(distribution).split("+")[0]  # 2.13.0+cpu: any build of 2.13.0
            pinned.add(f"{distribution}=={version}")
    return sorted(pinned, key=str.lower)
