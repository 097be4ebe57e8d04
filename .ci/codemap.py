#!/usr/bin/env python3
"""Fails unless docs/ARCHITECTURE.md names every module of every crate.

The codemap has one `### \`DIR/\`` section per crate (DIR is the crate's
folder relative to the workspace root). Inside it, each source file under
DIR/src must be named in backticks: by its path relative to src (`walk.rs`,
`export/csv.rs`), by its file name, or for a folder module by `folder/`.
`lib.rs` is the crate's essay and need not be named.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
doc = (root / "docs/ARCHITECTURE.md").read_text()
sections = {}
for m in re.finditer(r"^### `([^`]+)/`.*?$(.*?)(?=^### |^## |\Z)", doc, re.M | re.S):
    sections[m.group(1).strip("/")] = set(re.findall(r"`([^`]+)`", m.group(2)))

missing = []
crates = sorted(p.parent for p in root.rglob("Cargo.toml") if "target" not in p.parts and (p.parent / "src").is_dir())
for crate in crates:
    rel = str(crate.relative_to(root))
    names = sections.get(rel)
    if names is None:
        missing.append(f"{rel}: no `### \\`{rel}/\\`` section")
        continue
    for f in sorted((crate / "src").rglob("*.rs")):
        path = f.relative_to(crate / "src")
        if str(path) == "lib.rs":
            continue
        folder = f"{path.parent}/" if path.name == "mod.rs" else None
        candidates = {str(path), path.name, f"{rel}/src/{path}"} | ({folder} if folder else set())
        if path.parent != pathlib.Path("."):
            candidates.add(f"{path.parts[0]}/")  # a folder module named as a whole
        if not candidates & names:
            missing.append(f"{rel}/src/{path}")
if missing:
    print("docs/ARCHITECTURE.md does not name:\n  " + "\n  ".join(missing))
    sys.exit(1)
print(f"codemap names every module of {len(crates)} crates")
