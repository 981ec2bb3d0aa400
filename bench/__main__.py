"""python -m bench NAME [options]: run the bench script NAME, whichever role folder holds it.
python -m bench (or --help): the index of every script, by role, with the first line of its docstring."""

import ast
import difflib
import os
import runpy
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROLES = {
    "measure": "runs that train or time something and record results in bench/results/",
    "pages": "scripts that write page blocks and pictures",
    "testing": "tools that test the tests",
}


def scripts():
    """{name: role} of every script in the role folders."""
    found = {}
    for role in ROLES:
        for file in sorted(os.listdir(os.path.join(HERE, role))):
            if file.endswith(".py") and not file.startswith("_"):
                found[file[:-3]] = role
    return found


def summary(role, name):
    """The first line of a script's docstring, read without importing it."""
    with open(os.path.join(HERE, role, f"{name}.py"), encoding="utf-8") as f:
        doc = ast.get_docstring(ast.parse(f.read())) or ""
    return doc.splitlines()[0] if doc else ""


def index():
    lines = ["python -m bench NAME [options]   (from the repository root; NAME --help: its options)", ""]
    found = scripts()
    width = max(map(len, found))
    for role, what in ROLES.items():
        lines.append(f"{role}/: {what}")
        lines += [f"  {name:<{width}}  {summary(role, name)}" for name, r in found.items() if r == role]
        lines.append("")
    lines.append("bench/README.md: what each writes, its results file, its page and how long it takes")
    return "\n".join(lines)


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(index())
        return
    name = argv[0].removesuffix(".py").rsplit("/", 1)[-1]
    found = scripts()
    if name not in found:
        close = difflib.get_close_matches(name, found, n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        sys.exit(f"error: no bench script {argv[0]!r}; {hint}python -m bench lists them")
    sys.argv = [name, *argv[1:]]
    try:
        runpy.run_module(f"bench.{found[name]}.{name}", run_name="__main__", alter_sys=True)
    except OSError as e:  # a full disk, a folder taken away: one line for every bench, never a traceback
        where = e.filename or "its results"  # a failed write() names no file
        sys.exit(f"error: python -m bench {name}: cannot write {where}: {e.strerror or e}")


if __name__ == "__main__":
    main(sys.argv[1:])
