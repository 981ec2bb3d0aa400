"""The first install and the versions CI ran (README, "The two commands").

requirements.txt is what training and sampling a stage need and nothing else: exactly the third-party
packages the twelve stages, the sampler and babygpt/ import. requirements-dev.txt adds the tools', the tests'
and the notebooks' packages. constraints.txt, written by .ci/constraints.py from the CI environment, pins
exactly the packages those two files name, each at a version their bounds allow.
"""

import ast
import importlib.util
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def load_constraints_script():
    spec = importlib.util.spec_from_file_location("ci_constraints", ROOT / ".ci" / "constraints.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ci = load_constraints_script()


def requirement_lines(name):
    """Requirement objects of one file, its own lines only ('-r' lines and comments left out)."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / name).read_text(encoding="utf-8").splitlines())
    return [Requirement(line) for line in lines if line and not line.startswith("-")]


def pinned(text):
    """{name: version} of a constraints file's 'name==version' lines; anything else fails."""
    pins = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version and name == ci.normalize(name), f"constraints.txt: {line!r} is not name==version"
            pins[name] = version
    return pins


def imported_packages(paths):
    """The distributions behind the third-party modules these files import, at the top or inside a function."""
    modules = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules.add(node.module.split(".")[0])
    third_party = {m for m in modules if m not in sys.stdlib_module_names and not m.startswith("babygpt")}
    distributions = packages_distributions()
    return {ci.normalize(distributions[m][0]) for m in third_party}


def test_requirements_txt_is_exactly_what_the_stages_and_the_sampler_import():
    paths = [*ROOT.glob("babygpt_v*.py"), ROOT / "babygpt_sample.py"]
    paths += list((ROOT / "babygpt").glob("*.py"))
    assert len([p for p in paths if p.name.startswith("babygpt_v")]) == 12
    named = {ci.normalize(r.name) for r in requirement_lines("requirements.txt")}
    assert named == imported_packages(paths), "requirements.txt must name what training and sampling import, only"


def test_the_test_command_installs_the_first_command_too():
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text(encoding="utf-8").splitlines()
    assert ci.required_names()[: len(requirement_lines("requirements.txt"))] == [
        ci.normalize(r.name) for r in requirement_lines("requirements.txt")
    ]


def test_constraints_pin_exactly_the_required_packages_within_their_bounds():
    pins = pinned((ROOT / "constraints.txt").read_text(encoding="utf-8"))
    assert sorted(pins) == sorted(ci.required_names()), "rewrite it: python .ci/constraints.py"
    for file in ci.REQUIREMENTS:
        for requirement in requirement_lines(file):
            version = pins[ci.normalize(requirement.name)]
            assert requirement.specifier.contains(version), f"constraints.txt: {requirement.name}=={version} ({file})"


def test_constraints_text_follows_r_lines_and_drops_local_build_labels(tmp_path):
    (tmp_path / "a.txt").write_text("torch>=2.1  # the model\nPy_Test >=7\n", encoding="utf-8")
    (tmp_path / "b.txt").write_text("# tools\n-r a.txt\noptuna>=4\n", encoding="utf-8")
    names = ci.required_names(("b.txt",), root=tmp_path)
    assert names == ["torch", "py-test", "optuna"]
    versions = {"torch": "2.13.0+cpu", "py-test": "9.0", "optuna": "5.1.0"}
    text = ci.constraints_text(names, version=versions.__getitem__)
    assert pinned(text) == {"optuna": "5.1.0", "py-test": "9.0", "torch": "2.13.0"}


def test_a_package_missing_from_constraints_or_out_of_bounds_fails():
    with pytest.raises(AssertionError, match="not name==version"):
        pinned("torch>=2.1\n")
    text = (ROOT / "constraints.txt").read_text(encoding="utf-8")
    assert sorted(pinned(text.replace("tqdm==", "# tqdm=="))) != sorted(ci.required_names())
    assert not Requirement("torch>=2.1").specifier.contains("2.0.1")
