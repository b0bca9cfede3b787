"""The import graph of voli/: no circles, and the layering of the design (ARCHITECTURE.md, in the
shared folder beside the repository; the rules are restated here).

- ground floor (records, settings, errors, problems, text, languages, io, the corpus format,
  espeak-ng, the runner's machinery) imports no stage;
- a stage package (prepare, asr, align, features, profile) imports no other stage's modules:
  what two stages share lives on the ground floor;
- only voli.stages (the registry) and the CLI above it name every stage;
- the pipeline never imports the tools around it (simulate, evaluate, anonymize);
- only voli.workdir spells a stage's directory (anywhere in voli/, bench/ and tests/).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

VOLI = Path(__file__).resolve().parent.parent / "voli"
STAGE_PACKAGES = ("voli.prepare", "voli.asr", "voli.align", "voli.features", "voli.profile")
TOOLS = ("voli.simulate", "voli.evaluate", "voli.anonymize")
ABOVE = ("voli.stages", "voli.cli", "voli.__main__")


def module_name(path: Path) -> str:
    parts = path.relative_to(VOLI.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """module -> the voli modules it imports (at any depth of the file: lazy imports count)."""
    modules = {module_name(p): p for p in VOLI.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("voli"):
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    targets.add(full if full in modules else node.module)
            elif isinstance(node, ast.Import):
                targets.update(a.name for a in node.names if a.name.startswith("voli"))
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def within(module: str, prefixes) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def package_of(module: str) -> str | None:
    return next((p for p in STAGE_PACKAGES if within(module, [p])), None)


def test_no_import_circles():
    graph = import_graph()
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    assert not circles, circles


def test_layers():
    broken = []
    for module, targets in import_graph().items():
        for target in targets:
            if within(target, TOOLS) and not within(module, TOOLS + ("voli.cli",)):
                broken.append(f"{module} imports the tool {target}: the pipeline never imports simulate/evaluate")
            if within(target, ABOVE) and not within(module, ABOVE):
                broken.append(f"{module} imports {target}, which names every stage")
            mine, theirs = package_of(module), package_of(target)
            if theirs and mine != theirs and not within(module, ABOVE + TOOLS):
                broken.append(f"{module} imports {target}, another stage's module: move what they share down")
    assert not broken, "\n".join(sorted(broken))


def test_only_the_language_files_name_a_language():
    """A language's code appears as a string only in voli/languages/ (and the simulator's example)."""
    from voli import languages

    codes = set(languages.codes())
    named = []
    for path in VOLI.rglob("*.py"):
        if "languages" in path.parts or within(module_name(path), TOOLS):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in codes:
                named.append(f"{path.relative_to(VOLI.parent)}:{node.lineno}: {node.value!r}")
    assert not named, "\n".join(named)


def test_only_voli_workdir_spells_a_stage_directory():
    """A stage's directory name (its place and name: how the work directory spells it) is written
    only in voli/workdir.py. Code, docstrings, comments, messages, templates, tests and benches ask
    voli.workdir for it (``Workdir(root).stage("align")``, ``rel("align", "model")``), so that the
    layout can change in one place."""
    from voli.workdir import STAGE_ORDER

    root = VOLI.parent
    spelt = re.compile(rb"\d\d_(?:" + b"|".join(n.encode() for n in STAGE_ORDER) + rb")")
    allowed = {VOLI / "workdir.py", Path(__file__).resolve()}
    found = []
    for folder in ("voli", "bench", "tests"):
        for path in sorted((root / folder).rglob("*")):
            if not path.is_file() or path in allowed or "__pycache__" in path.parts:
                continue
            for lineno, line in enumerate(path.read_bytes().splitlines(), 1):
                if spelt.search(line):
                    found.append(f"{path.relative_to(root)}:{lineno}: {line.decode(errors='replace').strip()[:100]}")
    assert not found, "stage directories spelt outside voli/workdir.py (ask voli.workdir):\n" + "\n".join(found)
