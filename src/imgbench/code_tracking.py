"""Which library files a job runs: the import closure of its script inside the `imgbench` package.

The workflow gives each job these files as inputs, so editing any module that shapes a job's
output reruns that job (and what depends on it), and editing a module the job never imports
reruns nothing of it. The closure is read from the package's own import statements when the
workflow is parsed; nothing is imported. Modules a job picks by name at run time (a format, a
figure family) are named by the rule and followed the same way.

What counts as imported, by the rules Python itself follows:

- every `import` and `from ... import` in a module, at any depth (a function may import lazily),
  except under `if TYPE_CHECKING:`;
- importing `a.b.c` runs the packages `a` and `a.b` first, but only their module-level code: a
  package's `__init__` is followed into its functions only when a name is taken from it
  (`from imgbench import open_store`), not when one of its submodules is imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import Path

PACKAGE = "imgbench"


def closure(source_root: Path, scripts: Iterable[Path], modules: Iterable[str] = ()) -> list[Path]:
    """The package files that `scripts` and the modules named in `modules` (dotted names inside
    the package) import, directly or not, with those modules' own files; sorted."""
    pending = [parent for name in modules for parent in _with_parents(name, whole=True)]
    for script in scripts:
        pending += _imports(source_root, Path(script), None, whole=True)
    found: set[Path] = set()
    seen: set[tuple[str, bool]] = set()
    while pending:
        name, whole = pending.pop()
        path = module_file(source_root, name)
        if path is None or (name, whole) in seen:
            continue
        seen.add((name, whole))
        found.add(path)
        pending += _imports(source_root, path, name, whole=whole or path.name != "__init__.py")
    return sorted(found)


@cache
def module_file(source_root: Path, name: str) -> Path | None:
    """The file of package module `name` under `source_root` (e.g. src/), or None."""
    if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
        return None
    base = source_root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


@cache
def _imports(
    source_root: Path, path: Path, module: str | None, *, whole: bool
) -> tuple[tuple[str, bool], ...]:
    """(module, followed whole) for each import in the file `path` of module `module`: the
    module-level ones only unless `whole`. The packages above each module come along."""
    imported: list[tuple[str, bool]] = []
    for statement in _import_statements(_parse(path).body, whole=whole):
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                imported += _with_parents(alias.name, whole=True)
            continue
        base = _absolute(statement, module, path)
        imported += _with_parents(base, whole=False)
        for alias in statement.names:
            submodule = f"{base}.{alias.name}"
            # `from package import name`: a submodule, or a name the package itself defines.
            is_module = module_file(source_root, submodule) is not None
            imported.append((submodule, True) if is_module else (base, True))
    return tuple(imported)


def _with_parents(name: str, *, whole: bool) -> list[tuple[str, bool]]:
    """`name` (followed `whole` if a package) and each package above it at module level."""
    parts = name.split(".")
    parents = [(".".join(parts[:end]), False) for end in range(1, len(parts))]
    return [*parents, (name, whole)]


def _absolute(statement: ast.ImportFrom, module: str | None, path: Path) -> str:
    """The absolute module name a `from` import refers to (relative imports resolved)."""
    if statement.level == 0 or module is None:
        return statement.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = package[: len(package) - (statement.level - 1)]
    return ".".join([*package, statement.module] if statement.module else package)


def _import_statements(
    nodes: Iterable[ast.AST], *, whole: bool
) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements in and under `nodes` that run: all of them if `whole`, else those
    that run when the module is imported (not inside functions); never those under
    `if TYPE_CHECKING:`."""
    for node in nodes:
        if _is_type_checking_block(node):
            yield from _import_statements(node.orelse, whole=whole)
        elif whole or not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            if isinstance(node, ast.Import | ast.ImportFrom):
                yield node
            yield from _import_statements(ast.iter_child_nodes(node), whole=whole)


def _is_type_checking_block(node: ast.AST) -> bool:
    """`if TYPE_CHECKING:` or `if typing.TYPE_CHECKING:`, whose body never runs."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", None)
    return isinstance(test, ast.Name | ast.Attribute) and name == "TYPE_CHECKING"


@cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))
