"""The notebooks of notebooks/: stripped in git, written by notebooks/make.py, twins with the same code, and runnable.

- No committed notebook holds an output, an execution count or a widget's state (nbstripout's rule): a
  notebook's diff in git is its source.
- Each is exactly what `python notebooks/make.py` writes, so its prose and code come from one source.
- A Chinese notebook (NAME.zh.ipynb) has the same code cells as its English twin, comments aside (lesson 0's
  come from the Chinese page, whose code blocks comment in Chinese; the stage notebooks' are identical).
- Every English notebook runs top to bottom under nbclient at the tiny size (BABYGPT_TINY=1 in the kernel's
  environment), on the CPU, and a cell that raises fails its test. The Chinese twins are not run again: the
  check above makes their code the English one. One kernel serves all of them (its start and `import torch`
  cost more than a tiny notebook), with the notebook's variables cleared (%reset -f) before each.
"""

import importlib.util
import json
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ROOT / "notebooks"


def load_make():
    spec = importlib.util.spec_from_file_location("notebooks_make", FOLDER / "make.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


make = load_make()
COMMITTED = sorted(path.name for path in FOLDER.glob("*.ipynb"))
ENGLISH = [name for name in COMMITTED if not name.endswith(".zh.ipynb")]


def order(name):
    """v0, v1, ..., v12, then the rest: the order a learner meets them."""
    stem = name.split(".")[0]
    return (0, int(stem[1:])) if stem[1:].isdigit() else (1, stem)


def leftovers(text):
    """What a committed notebook must not hold: outputs, execution counts, widget state. [] when stripped."""
    document = json.loads(text)
    found = [f"metadata {key}" for key in ("widgets",) if key in document.get("metadata", {})]
    for index, cell in enumerate(document["cells"]):
        if cell.get("outputs"):
            found.append(f"cell {index}: outputs")
        if cell.get("execution_count") is not None:
            found.append(f"cell {index}: execution_count {cell['execution_count']}")
    return found


COMMENT = re.compile(r"(?:^|\s)#.*$", re.M)  # as tests/test_docs.py compares the pages' code blocks


def code_cells(name):
    return [
        cell["source"]
        for cell in json.loads((FOLDER / name).read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "code"
    ]


def test_every_notebook_the_generator_writes_is_committed_and_nothing_else():
    assert sorted(make.all_notebooks()) == COMMITTED, "run: python notebooks/make.py"
    assert {"v1.ipynb", "v12.ipynb", "v12.zh.ipynb"} <= set(COMMITTED)


@pytest.mark.parametrize("name", COMMITTED)
def test_committed_notebook_is_stripped_and_what_make_py_writes(name):
    text = (FOLDER / name).read_text(encoding="utf-8")
    assert leftovers(text) == [], f"{name} holds outputs: run python notebooks/make.py (it writes none)"
    assert text == make.all_notebooks()[name], f"{name} is not what notebooks/make.py writes: run it"


def test_an_output_or_a_count_is_found():
    text = make.all_notebooks()["v1.ipynb"]
    document = json.loads(text)
    code = next(cell for cell in document["cells"] if cell["cell_type"] == "code")
    code["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]
    code["execution_count"] = 3
    assert len(leftovers(json.dumps(document))) == 2
    assert leftovers(text) == []


def in_english(code):
    """A Chinese cell's code with its one line in the reader's language (the first cell's stop) in English."""
    for chinese, english in zip(make.STOP["zh"], make.STOP["en"], strict=True):
        code = code.replace(chinese, english)
    return code


@pytest.mark.parametrize("name", [name for name in ENGLISH if name.replace(".ipynb", ".zh.ipynb") in COMMITTED])
def test_chinese_twin_has_the_same_code(name):
    twin = name.replace(".ipynb", ".zh.ipynb")
    twin_code = [in_english("".join(cell)) for cell in code_cells(twin)]  # the stop line aside: in its language
    assert [COMMENT.sub("", cell) for cell in twin_code] == [
        COMMENT.sub("", "".join(cell)) for cell in code_cells(name)
    ]
    if not name.startswith("v0."):
        assert twin_code == ["".join(cell) for cell in code_cells(name)]
    prose = [
        cell
        for cell in json.loads((FOLDER / twin).read_text(encoding="utf-8"))["cells"]
        if cell["cell_type"] == "markdown"
    ]
    assert any("的" in "".join(cell["source"]) for cell in prose), f"{twin}: its prose is not Chinese"


def test_every_english_notebook_has_its_chinese_twin():
    assert [name for name in ENGLISH if name.replace(".ipynb", ".zh.ipynb") not in COMMITTED] == []


@pytest.fixture(scope="module")
def kernel():
    """One Python kernel for every notebook of this file, started in notebooks/ with BABYGPT_TINY=1."""
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name="python3")
    env = {**os.environ, "BABYGPT_TINY": "1", "OMP_NUM_THREADS": "1", "MPLBACKEND": "agg"}
    manager.start_kernel(cwd=str(FOLDER), env=env)
    yield manager
    manager.shutdown_kernel(now=True)


def run(notebook, kernel):
    """Execute a notebook (nbformat node) top to bottom in the shared kernel, its variables cleared first."""
    import nbformat
    from nbclient import NotebookClient

    start = f"%reset -f\nimport os\n\nos.chdir({str(FOLDER)!r})"  # lesson 0's tiny run moves elsewhere
    notebook.cells.insert(0, nbformat.v4.new_code_cell(start))
    NotebookClient(notebook, km=kernel, timeout=120, allow_errors=False).execute()
    return notebook


@pytest.mark.parametrize("name", sorted(ENGLISH, key=order), ids=lambda name: name.split(".")[0])
def test_notebook_runs_top_to_bottom_at_the_tiny_size(name, kernel):
    import nbformat

    notebook = run(nbformat.reads(make.all_notebooks()[name], as_version=4), kernel)
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "stream"
    )
    if name == "v0.ipynb":  # the page's cells, the last of which samples from the trained model
        assert "vocab_size:" in printed and "--- 春 ---" in printed
    elif name.startswith("v") and name[1:].split(".")[0].isdigit():
        assert "step    10 | train loss" in printed  # trained to the end, reporting as it went
        pictures = [o for cell in notebook.cells for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        assert pictures, f"{name} showed no picture"
    if name == "cloud_gpu.ipynb":  # every step ran, and its time is in the table at the end
        steps = ["the code and the corpora", "v11, full size, on the ci", "the lecture's run", "sampling"]
        assert all(f"  {step}" in printed for step in steps), printed[-600:]
        assert "$ python babygpt_train.py" in printed and "Running on local URL" in printed


def test_a_notebook_that_raises_fails(kernel):
    import nbformat
    from nbclient.exceptions import CellExecutionError

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("1 / 0")])
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        run(notebook, kernel)


def test_variables_do_not_leak_from_one_notebook_to_the_next(kernel):
    import nbformat
    from nbclient.exceptions import CellExecutionError

    run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("leaked = 1")]), kernel)
    with pytest.raises(CellExecutionError, match="NameError"):
        run(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("leaked")]), kernel)


def test_the_cloud_notebook_installs_gradio_at_requirements_dev_bound():
    """It cannot install requirements-dev.txt (its ipykernel would replace Colab's), so it names Gradio itself."""
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    bound = re.search(r"^gradio\S*", dev, re.M).group(0)
    assert f'"{bound}"' in "".join("".join(cell) for cell in code_cells("cloud_gpu.ipynb"))


def avoided_terms():
    """{variant: the glossary's term} from the last table of docs/glossary.zh.md (不用的说法)."""
    text = (ROOT / "docs" / "glossary.zh.md").read_text(encoding="utf-8")
    table = text[text.index("## 不用的说法") :]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("|")][2:]
    return {variant.strip(): term.strip() for _, term, variants in rows for variant in variants.split("、")}


def test_chinese_notebooks_use_the_glossary_terms():
    avoided = avoided_terms()
    assert avoided["运行文件夹"] == "运行目录"
    found = []
    for name in COMMITTED:
        if name.endswith(".zh.ipynb"):
            cells = json.loads((FOLDER / name).read_text(encoding="utf-8"))["cells"]
            prose = "".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")
            found += [
                f"{name}: {variant} (the glossary: {term})" for variant, term in avoided.items() if variant in prose
            ]
    assert found == []


@pytest.mark.parametrize("language", ["en", "zh"])
def test_first_cell_outside_a_clone_stops_at_the_placeholder_address(language, tmp_path, monkeypatch):
    """Not in a clone, with REPO_URL still the placeholder: one line in the notebook's language, no git clone."""
    monkeypatch.chdir(tmp_path)
    cells = {"en": make.GET_THE_CODE[0], "zh": make.GET_THE_CODE[1]}
    with pytest.raises(SystemExit) as stopped:
        exec(cells[language], {})
    assert str(stopped.value) == "".join(make.STOP[language])
    assert "\n" not in str(stopped.value) and list(tmp_path.iterdir()) == []
