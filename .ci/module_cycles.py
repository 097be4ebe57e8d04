#!/usr/bin/env python3
"""Fails if any crate of the workspace has a module cycle.

A module is a source file (`lib.rs`/`main.rs` is the crate root, `a/mod.rs`
and `a.rs` are `a`). An edge M -> N is a path in M's code (outside comments
and string literals are not told apart; paths are specific enough) of the form
`crate::a::b::Item`, `super::Item` or `self::x::Item` that resolves, by the
longest prefix naming a module, to N != M. `mod x;` declarations are not edges,
but re-exports (`pub use x::Y`) are, and so is a path through a re-export
(`crate::Y` resolves to the root): that is how a child that names a parent's
re-export closes a cycle. Inline `mod tests` blocks count as their file.

Usage: module_cycles.py [CRATE_SRC_DIR ...]  (default: every crate's src/)
"""
import pathlib
import re
import sys

PATH = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
GROUP = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^}]*)\}", re.S)


def modules(src):
    mods = {}
    for f in src.rglob("*.rs"):
        rel = f.relative_to(src).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "mod" or (len(parts) == 1 and parts[0] in ("lib", "main")):
            parts = parts[:-1]
        if len(parts) >= 1 and parts[0] == "bin":
            continue
        mods[tuple(parts)] = f
    return mods


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    return "\n".join(line.split("//")[0] if not line.lstrip().startswith("//") else "" for line in text.splitlines())


def resolve(mods, base, segs):
    path = list(base) + segs
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in mods:
            return tuple(path[:n])
    return ()


def edges_of(mods, mod, text):
    out = set()
    parent = mod[:-1]

    def add(kind, rest):
        segs = [s for s in rest.split("::") if s]
        base = {"crate": (), "super": parent, "self": mod}[kind]
        while segs and segs[0] == "super":
            base, segs = base[:-1], segs[1:]
        target = resolve(mods, base, segs)
        if target != mod:
            out.add(target)

    for m in GROUP.finditer(text):
        for item in m.group(3).split(","):
            item = item.strip().split(" as ")[0].strip()
            if item and item != "self":
                add(m.group(1), m.group(2) + "::" + item.split("::")[0] if "::" not in item else m.group(2) + "::" + item)
            elif item == "self":
                add(m.group(1), m.group(2))
    for m in PATH.finditer(GROUP.sub("", text)):
        add(m.group(1), m.group(2))
    return out


def cycles(graph):
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(comp)

    for v in list(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = pathlib.Path(__file__).resolve().parent.parent
    srcs = [pathlib.Path(a) for a in sys.argv[1:]] or sorted(p.parent for p in root.rglob("Cargo.toml")
                                                           if (p.parent / "src").is_dir() and "target" not in p.parts
                                                           for p in [p]) 
    srcs = [s / "src" if (s / "src").is_dir() else s for s in srcs]
    bad = 0
    for src in srcs:
        mods = modules(src)
        graph = {m: edges_of(mods, m, strip_comments(f.read_text())) for m, f in mods.items()}
        for comp in cycles(graph):
            names = sorted("::".join(m) or "<root>" for m in comp)
            print(f"{src}: module cycle: {' <-> '.join(names)}")
            bad += 1
    if bad:
        sys.exit(1)
    print(f"no module cycles in {len(srcs)} crates")


if __name__ == "__main__":
    main()
