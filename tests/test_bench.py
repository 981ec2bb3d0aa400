"""bench/ is a package a learner can find their way in: an index, a README table of every script, one way to
find the repository's modules (run from the root with python -m), and no script importing another."""

import ast
import importlib
import re
import subprocess
import sys

import pytest
from conftest import ROOT

from bench import runs

BENCH = ROOT / "bench"
ROLES = ("measure", "pages", "testing")
SCRIPTS = {path.stem: role for role in ROLES for path in sorted((BENCH / role).glob("*.py")) if path.stem[0] != "_"}


def test_every_script_sits_in_a_role_folder_and_none_at_the_top():
    top = {path.name for path in BENCH.glob("*.py")}
    assert top == {"__init__.py", "__main__.py", "runs.py", "progression_table.py"}, "a script belongs in a role"
    assert len(SCRIPTS) >= 25


@pytest.mark.docs
def test_the_readme_has_a_row_for_every_script_in_its_role():
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    sections = dict(re.findall(r"^## (\w+)/\n(.*?)(?=^## |\Z)", readme, re.S | re.M))
    for name, role in SCRIPTS.items():
        assert re.search(rf"^\| `{name}` \|", sections.get(role, ""), re.M), (
            f"bench/README.md: no row for {role}/{name}"
        )
    listed = {name for section in sections.values() for name in re.findall(r"^\| `(\w+)` \|", section, re.M)}
    assert listed == set(SCRIPTS), f"rows for scripts that do not exist: {listed - set(SCRIPTS)}"


@pytest.mark.parametrize("role", ROLES)
def test_no_script_changes_sys_path_or_imports_another_script(role):
    for path in sorted((BENCH / role).glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                names = [f"{module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                assert not re.match(r"bench\.(measure|pages|testing)\.", name), f"{path.name} imports {name}"
                assert name.split(".")[0] not in SCRIPTS, f"{path.name} imports the script {name}"
        text = path.read_text(encoding="utf-8")
        assert "sys.path.insert(0, ROOT" not in text and "os.path.abspath(__file__)))\n" not in text, path.name


def test_python_m_bench_lists_every_script_and_runs_one_by_its_name():
    index = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, capture_output=True, text=True, check=True)
    for name in SCRIPTS:
        assert re.search(rf"^  {name} ", index.stdout, re.M), name
    found = subprocess.run(
        [sys.executable, "-m", "bench", "val_split", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert found.returncode == 0 and "--check" in found.stdout
    wrong = subprocess.run([sys.executable, "-m", "bench", "val_splt"], cwd=ROOT, capture_output=True, text=True)
    assert wrong.returncode == 1 and wrong.stderr.strip() == (
        "error: no bench script 'val_splt'; did you mean val_split? python -m bench lists them"
    )


@pytest.mark.docs
@pytest.mark.parametrize("name", ["lesson0", "v3_worked"])
def test_the_pages_a_record_writes_show_the_record(name):
    """lesson 0's outputs and v3's worked attention are blocks written from a recorded measurement
    (bench/results/NAME.json): each page holds what --write writes from it now."""
    script = importlib.import_module(f"bench.pages.{name}")
    problems = script.problems(runs.read_json(script.RESULTS, script.COMMAND))
    assert not problems, "\n".join(problems) + f"\nrun: {script.COMMAND} --write (or without --write to measure again)"
