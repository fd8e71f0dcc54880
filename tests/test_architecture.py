"""The stated architecture holds in the code: data flows read -> segment -> measure -> stage -> report.

Every import inside the package is checked against the layer order below, and the package's import
graph must have no cycle. Source files stay small enough to read (700 lines).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "onfh_imaging"

#: Lower layers first; a module may import its own layer and the layers before it, never a later one.
LAYERS: list[set[str]] = [
    {"errors", "vocab", "quality", "fitting", "geometry", "contract", "__init__"},
    {"io", "plan"},
    {"phantom"},
    {"segment"},
    {"measure"},
    {"staging"},
    {"verdict", "verdict_early", "verdict_conflicts"},
    {"pipeline", "evaluation", "visit_priors"},
    {"export", "textreport", "reads", "reading", "_reading_jobs", "_reading_masks", "_reading_surface",
     "reading_worker", "batch"},
    {"cli", "__main__"},
]
MAX_LINES = 700

#: Imports against the layer order that remain (none: the pipeline stages what measurement returns).
#: The set may only shrink.
KNOWN_UPWARD: set[tuple[str, str]] = set()


def _layer_of(module: str) -> int:
    top = module.split(".")[1] if module.count(".") else "__init__"
    for n, names in enumerate(LAYERS):
        if top in names:
            return n
    raise AssertionError(f"{module}: not in any layer of the architecture; add it to LAYERS")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(path: Path, module: str, is_package: bool) -> set[str]:
    tree = ast.parse(path.read_text())
    # imports for type annotations only (``if TYPE_CHECKING:``) do not run, so they are no dependency
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names)
    return {f for f in found if f == "onfh_imaging" or f.startswith("onfh_imaging.")}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph = {}
    for name, path in mods.items():
        deps = {d for d in _imports(path, name, path.name == "__init__.py")}
        # keep only names that are modules (``from pkg import function`` names the package)
        graph[name] = {d if d in mods else d.rsplit(".", 1)[0] for d in deps} & set(mods) - {name}
    return graph


def test_no_import_from_a_higher_layer():
    wrong = []
    for module, deps in _graph().items():
        for dep in deps:
            if _layer_of(dep) > _layer_of(module) and (module, dep) not in KNOWN_UPWARD:
                wrong.append(f"{module} imports {dep}")
    assert not wrong, "lower layers import higher ones:\n" + "\n".join(sorted(wrong))
    still = {(m, d) for m, deps in _graph().items() for d in deps}
    assert KNOWN_UPWARD <= still, f"remove from KNOWN_UPWARD what no longer happens: {KNOWN_UPWARD - still}"


def test_import_graph_has_no_cycle():
    graph = _graph()
    # a package's __init__ re-exporting its own modules is not a dependency between concepts
    for name in graph:
        graph[name] = {d for d in graph[name] if not name.startswith(d + ".")}
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("folder", ["onfh_imaging", "plugins"])
def test_source_files_stay_readable(folder):
    long = [f"{p.relative_to(ROOT)}: {n} lines" for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, "files over 700 lines:\n" + "\n".join(long)


#: Modules (files, or folders of them; paths in onfh_imaging/, or from the repository root for plugins/) whose
#: public functions and methods all carry numpydoc sections; the list may only grow.
NUMPYDOC_MODULES = (
    "io", "export", "geometry.py", "quality.py", "staging.py", "batch", "reads.py", "plan.py",
    "errors.py", "contract.py", "vocab.py", "evaluation.py", "phantom/model.py", "phantom/hip_model.py",
    "phantom/necrosis.py", "phantom/axes.py", "phantom/shapes.py", "phantom/projection.py", "phantom/truth.py",
    "phantom/mr.py", "phantom/labelmap/anatomy.py", "phantom/labelmap/head.py", "phantom/labelmap/primitives.py",
    "phantom/labelmap/truth.py", "phantom/labelmap/mr.py", "pipeline.py", "measure/radiograph.py",
    "segment/xray_prosthesis.py", "fitting.py", "textreport.py", "cli.py", "reading_worker.py",
    "segment/heads.py", "segment/bone_surface.py", "segment/lesion.py", "segment/checks.py", "segment/anatomy.py",
    "segment/rays.py", "segment/mri.py", "segment/acetabulum.py", "segment/xray_search.py",
    "segment/xray_outline.py", "segment/xray_sides.py", "segment/xray_ball.py", "segment/xray_anatomy.py",
    "segment/xray.py", "segment/xray_silhouette.py", "segment/xray_rim.py", "segment/layers.py",
    "segment/junction.py", "segment/_layer_model.py",
    "measure", "verdict.py", "verdict_early.py", "verdict_conflicts.py", "visit_priors.py",
    "phantom", "__init__.py", "__main__.py", "segment/__init__.py",
    "reading.py", "_reading_jobs.py", "_reading_masks.py", "_reading_surface.py", "plugins/onfh_napari",
)


def _returns_value(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Whether a function returns (or yields) a value: its annotation, else a ``return x`` in its own body."""
    if fn.returns is not None:
        return not (isinstance(fn.returns, ast.Constant) and fn.returns.value is None)
    stack = list(fn.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
            continue
        if isinstance(node, ast.Return) and node.value is not None or isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def _public_functions(tree: ast.Module):
    """Top-level public functions and the public methods of public classes, as (qualified name, node)."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and not node.name.startswith("_"):
            yield node.name, node
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                    yield f"{node.name}.{item.name}", item


def _undocumented(source: str) -> list[str]:
    """Public functions with parameters whose docstring lacks a numpydoc Parameters (or Returns) section."""
    missing = []
    for name, fn in _public_functions(ast.parse(source)):
        args = fn.args
        named = [a.arg for a in args.posonlyargs + args.args + args.kwonlyargs if a.arg not in ("self", "cls")]
        if not (named or args.vararg or args.kwarg):
            continue
        doc = ast.get_docstring(fn) or ""
        lacks = [] if "Parameters\n----------" in doc else ["Parameters"]
        if _returns_value(fn) and "Returns\n-------" not in doc and "Yields\n------" not in doc:
            lacks.append("Returns")
        if lacks:
            missing.append(f"{name} (no {' or '.join(lacks)})")
    return missing


def test_numpydoc_check_finds_an_undocumented_function():
    source = '''
def documented(x: float) -> float:
    """Twice x.

    Parameters
    ----------
    x : float
        A length, mm.

    Returns
    -------
    float
    """
    return 2 * x


def no_returns(x):
    """Twice x.

    Parameters
    ----------
    x : float
    """
    return 2 * x


def writes(path) -> None:
    """Write.

    Parameters
    ----------
    path : path
    """


def _private(x):
    return x


class Thing:
    def method(self, y):
        """Only a summary."""
        return y

    @property
    def size(self) -> int:
        """No parameters: a summary is enough."""
        return 1
'''
    assert _undocumented(source) == ["no_returns (no Returns)", "Thing.method (no Parameters or Returns)"]


@pytest.mark.parametrize("module", NUMPYDOC_MODULES)
def test_public_functions_have_numpydoc_sections(module):
    target = ROOT / module if module.startswith("plugins/") else PACKAGE / module  # plugins: from the root
    paths = sorted(target.rglob("*.py")) if target.is_dir() else [target]
    missing = [f"{p.relative_to(ROOT)}: {name}" for p in paths for name in _undocumented(p.read_text())]
    assert not missing, "public functions without numpydoc Parameters/Returns:\n" + "\n".join(missing)



def test_every_source_module_is_held_to_numpydoc():
    covered = set()
    for module in NUMPYDOC_MODULES:
        target = ROOT / module if module.startswith("plugins/") else PACKAGE / module
        covered.update(target.rglob("*.py") if target.is_dir() else [target])
    sources = set(PACKAGE.rglob("*.py")) | set((ROOT / "plugins").rglob("*.py"))
    left = sorted(str(p.relative_to(ROOT)) for p in sources - covered)
    assert not left, "modules outside NUMPYDOC_MODULES:\n" + "\n".join(left)

#: Longest body of a function or method, in lines from its first statement after the docstring to its end:
#: about one screen, so each function can be read whole.
MAX_FUNCTION_LINES = 50

#: Functions longer than that which remain, as "path::qualified name". The set may only shrink.
KNOWN_LONG: set[str] = set()


def _function_lengths(source: str) -> dict[str, int]:
    """Body length in lines (docstring excluded) of every function and method, by qualified name."""
    lengths: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                body = child.body
                if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
                        and isinstance(body[0].value.value, str)):
                    body = body[1:]
                lengths[name] = child.end_lineno - body[0].lineno + 1 if body else 0
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return lengths


def _all_function_lengths() -> dict[str, int]:
    return {f"{p.relative_to(ROOT).as_posix()}::{name}": n
            for folder in ("onfh_imaging", "plugins") for p in sorted((ROOT / folder).rglob("*.py"))
            for name, n in _function_lengths(p.read_text()).items()}


def test_function_length_count_skips_the_docstring():
    source = '''
def f(x):
    """Doc.

    More doc.
    """
    y = x
    return y


class A:
    def m(self):
        def inner():
            return 1
        return inner()
'''
    assert _function_lengths(source) == {"f": 2, "A.m": 3, "A.m.inner": 1}


def test_functions_stay_short():
    lengths = _all_function_lengths()
    long = [f"{name}: {n} lines" for name, n in sorted(lengths.items())
            if n > MAX_FUNCTION_LINES and name not in KNOWN_LONG]
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)
    gone = sorted(name for name in KNOWN_LONG if lengths.get(name, 0) <= MAX_FUNCTION_LINES)
    assert not gone, f"remove from KNOWN_LONG what is no longer long (or no longer exists): {gone}"
