"""Testing the tests: mutation testing of one stage's shared code and of babygpt_sample.py, with mutmut 3.

    pip install mutmut==3.8.1                  (not in requirements.txt: a maintainer's tool, not run in CI)
    nice -n 10 python -m bench mutation v10    # babygpt_v10_dropout.py against its v10 tests
    nice -n 10 python -m bench mutation sample # babygpt_sample.py against tests/test_sample.py
    python -m bench mutation v10 --survivors   # list the surviving mutants of the last run, with their diffs

mutmut changes one small thing at a time in the code (a + for a -, < for <=, a constant, a removed call),
runs the tests that reach the changed function, and counts the mutant killed when a test fails. A mutant
that survives is a change no test notices: a bug the tests would let through, or a change that makes no
difference (an equivalent mutant). The stages' shared code is byte-identical in all twelve, so mutating one
stage (v10: it has every shared function, and dropout) tests the tests of all of them.

Each run builds a scratch project under out/mutation/TARGET/ (out/ is gitignored): copies of the scripts and
tests, and a pyproject.toml holding the mutmut settings, so the repository's own pyproject.toml, pytest and
ruff are unchanged. In the copy of the mutated file, decorators mutmut skips (@torch.no_grad(), @property)
are moved below their function as an assignment (f = torch.no_grad()(f)): the same code, but mutmut then
mutates estimate_loss, generate and the KV-cache forward too. The counts are printed at the end.
The test selection leaves out what cannot pass on a mutated copy (the byte-identical shared-code check) and
what costs seconds per mutant (child processes that import torch).
"""

import argparse
import ast
import collections
import os
import shutil
import subprocess
import sys

from bench.runs import ROOT

TARGETS = {  # name -> (file to mutate, pytest arguments that select its tests)
    "v10": ("babygpt_v10_dropout.py", ["tests/test_stages.py", "-k", "v10 and not shared_code"]),
    "sample": ("babygpt_sample.py", ["tests/test_sample.py", "-k", "not real_runs"]),
}


def undecorate(source):
    """Move each @torch.no_grad() / @property decorator below its function as an assignment, which mutmut mutates."""
    lines = source.splitlines(keepends=True)
    moves = []  # (decorator line index, line index after the function, indent, name, decorator)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and len(node.decorator_list) == 1:
            decorator = ast.get_source_segment(source, node.decorator_list[0])
            if decorator in ("torch.no_grad()", "property"):
                indent = " " * node.col_offset
                moves.append((node.decorator_list[0].lineno - 1, node.end_lineno, indent, node.name, decorator))
    for decorator_line, end, indent, name, decorator in sorted(moves, reverse=True):  # bottom up: indices stay valid
        lines.insert(end, f"{indent}{name} = {decorator}({name})\n")
        del lines[decorator_line]
    return "".join(lines)


def build(target, folder):
    path, selection = TARGETS[target]
    if os.path.exists(folder):
        shutil.rmtree(folder)
    os.makedirs(os.path.join(folder, "tests"))
    scripts = sorted(name for name in os.listdir(ROOT) if name.startswith("babygpt_v") and name.endswith(".py"))
    scripts += ["babygpt_sample.py"]
    for name in scripts:
        shutil.copy2(os.path.join(ROOT, name), folder)
    shutil.copytree(os.path.join(ROOT, "babygpt"), os.path.join(folder, "babygpt"))  # what the tools import
    for name in ("conftest.py", os.path.basename(selection[0])):
        shutil.copy2(os.path.join(ROOT, "tests", name), os.path.join(folder, "tests"))
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        source = f.read()
    with open(os.path.join(folder, path), "w", encoding="utf-8") as f:
        f.write(undecorate(source))
    with open(os.path.join(folder, "pyproject.toml"), "w", encoding="utf-8") as f:
        f.write(
            "[tool.mutmut]\n"
            f"source_paths = [{path!r}]\n"
            f"also_copy = {[name for name in scripts if name != path] + ['babygpt']!r}\n"  # what the tests import
            f"pytest_add_cli_args_test_selection = {selection!r}\n"
            'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
            "\n[tool.pytest.ini_options]\n"
            'testpaths = ["tests"]\n'
        )


def mutmut(folder, *arguments, capture=False):
    command = [sys.executable, "-m", "mutmut", *arguments]
    print("$", " ".join(command), f"   (in {os.path.relpath(folder, ROOT)})", flush=True)
    return subprocess.run(command, cwd=folder, check=True, text=True, capture_output=capture).stdout


def counts(folder):
    """{status: count} from `mutmut results --all true`, whose lines read '    name: status'."""
    out = mutmut(folder, "results", "--all", "true", capture=True)
    statuses = [line.rsplit(": ", 1)[1].strip() for line in out.splitlines() if ": " in line]
    return collections.Counter(statuses)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("target", choices=TARGETS, help="v10: the shared stage code; sample: babygpt_sample.py")
    parser.add_argument("--max_children", type=int, default=2, help="mutants tested at once (default: %(default)s)")
    parser.add_argument(
        "--survivors", action="store_true", help="do not run: show the surviving mutants of the last run and diffs"
    )
    parser.add_argument(
        "--again",
        nargs="*",
        metavar="MUTANT",
        help="do not rebuild: copy the current tests into the last run's folder and test these mutants again"
        " (default: every survivor); quick while writing tests, but a fresh run gives the counts to publish",
    )
    args = parser.parse_args()
    folder = os.path.join(ROOT, "out", "mutation", args.target)
    if args.survivors:
        out = mutmut(folder, "results", capture=True)
        for line in out.splitlines():
            if ": " in line:
                print(mutmut(folder, "show", line.rsplit(": ", 1)[0].strip(), capture=True))
        print(out)
        return
    if args.again is not None:
        _, selection = TARGETS[args.target]
        shutil.copy2(os.path.join(ROOT, selection[0]), os.path.join(folder, "tests"))
        stats = os.path.join(folder, "mutants", "mutmut-stats.json")  # which tests reach which function: stale now
        if os.path.exists(stats):
            os.remove(stats)
        names = args.again or [
            line.rsplit(": ", 1)[0].strip()
            for line in mutmut(folder, "results", capture=True).splitlines()
            if ": " in line
        ]
        mutmut(folder, "run", "--max-children", str(args.max_children), *names)
    else:
        build(args.target, folder)
        mutmut(folder, "run", "--max-children", str(args.max_children))
    total = counts(folder)
    print(f"{args.target}: {sum(total.values())} mutants: " + ", ".join(f"{n} {s}" for s, n in total.most_common()))


if __name__ == "__main__":
    main()
