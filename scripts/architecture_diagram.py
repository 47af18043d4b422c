"""Draw the package's layers from its real imports: ``python scripts/architecture_diagram.py [-o OUT.png]``.

Every module of ``src/googlenet`` is read with ``ast``; imports anywhere in a file count (also inside functions).
Modules are grouped into their top-level unit (``googlenet.data.crops`` -> ``eval``; ``googlenet.contract`` ->
``contract``), and each unit is placed one row above the highest unit it imports, so every arrow points down.
The script also prints the units by layer with what each imports, the table in docs/architecture.md.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "src" / "googlenet"


def unit_of(module: str) -> str:
    """``googlenet.data.crops`` -> ``eval``; ``googlenet`` -> ``googlenet``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """Package modules that ``path`` imports (absolute names), anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("googlenet")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package
                for _ in range(node.level - 1):
                    base = base.rsplit(".", 1)[0]
                mod = f"{base}.{node.module}" if node.module else base
            elif node.module and node.module.startswith("googlenet"):
                mod = node.module
            else:
                continue
            found.add(mod)
            found |= {f"{mod}.{a.name}" for a in node.names}
    return found


def unit_graph() -> dict[str, set[str]]:
    """Top-level unit -> the units it imports (the package root itself, ``googlenet``, left out)."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        u = unit_of(name)
        if u == "googlenet" or u == "__main__":
            continue
        deps = {unit_of(m) for m in imports_of(path) if m in modules}
        graph.setdefault(u, set()).update(d for d in deps if d not in (u, "googlenet"))
    return graph


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each unit's layer: 0 for a unit importing nothing of the package, else 1 + its highest import's layer."""
    memo: dict[str, int] = {}

    def depth(u: str, stack: tuple[str, ...] = ()) -> int:
        if u in stack:
            raise SystemExit(f"import cycle between units: {' -> '.join((*stack, u))}")
        if u not in memo:
            memo[u] = 1 + max((depth(d, (*stack, u)) for d in graph.get(u, ())), default=-1)
        return memo[u]

    for u in graph:
        depth(u)
    return memo


def draw(graph: dict[str, set[str]], level: dict[str, int], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows: dict[int, list[str]] = {}
    for u in sorted(level, key=lambda u: (level[u], u)):
        rows.setdefault(level[u], []).append(u)
    width = max(len(r) for r in rows.values())
    pos = {u: ((i + 0.5) * width / len(r), lvl) for lvl, r in rows.items() for i, u in enumerate(r)}
    fig, ax = plt.subplots(figsize=(1.6 * width + 1, 1.1 * len(rows) + 1))
    for u, deps in graph.items():
        for d in deps:
            (x0, y0), (x1, y1) = pos[u], pos[d]
            ax.annotate("", xy=(x1, y1 + 0.18), xytext=(x0, y0 - 0.18),
                        arrowprops={"arrowstyle": "->", "color": "0.6", "lw": 0.8})  # fmt: skip
    for u, (x, y) in pos.items():
        ax.text(x, y, u, ha="center", va="center", fontsize=10,
                bbox={"boxstyle": "round,pad=0.35", "fc": "#e8f0fe", "ec": "#4a6fa5"})  # fmt: skip
    ax.set_xlim(-0.2, width + 0.2)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_yticks(range(len(rows)), [f"layer {i}" for i in range(len(rows))])
    ax.set_xticks([])
    for side in ("top", "right", "bottom"):
        ax.spines[side].set_visible(False)
    ax.set_title("googlenet: units of src/googlenet by import layer (arrows: imports, always downwards)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--out", default=str(ROOT.parents[1] / "docs" / "architecture.png"))
    args = parser.parse_args()
    graph = unit_graph()
    level = layers(graph)
    for lvl in range(max(level.values()) + 1):
        for u in sorted(u for u in level if level[u] == lvl):
            print(f"| {lvl} | `{u}` | {', '.join(f'`{d}`' for d in sorted(graph[u])) or '-'} |")
    draw(graph, level, Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
