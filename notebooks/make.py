"""Write the notebooks of notebooks/, in English (NAME.ipynb) and Chinese (NAME.zh.ipynb), from one source.

    python notebooks/make.py            # write them all
    python notebooks/make.py --check    # exit 1, naming them, if a notebook in the folder is not what this writes

One source, so that prose and code cannot drift: the stage notebooks (v1 ... v12) come from one template
below, filled in for each stage; the cloud-GPU notebook (cloud_gpu) is written out below; lesson 0 (v0) is
generated from docs/learn/v0.md and docs/learn/v0.zh.md, whose ```python blocks become its code cells, in
order, and the rest its prose. A notebook and its Chinese twin have the same code cells, character for character:
only the prose is in the reader's language. The notebooks use the stages' own code: they import a stage and
call its functions, they never hold a copy.

Outputs are never written (nbstripout's rule): a notebook in git holds no output, no execution count and no
kernel state, so its diff is its source. tests/test_notebooks.py fails on a committed output, checks that the
committed files are what this script writes, and runs every notebook top to bottom with nbclient at a tiny
size: BABYGPT_TINY=1 in the kernel's environment, which each notebook reads in its first code cell.
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))  # the registry, babygpt/checkpoint.py, when this runs as python notebooks/make.py

from babygpt.checkpoint import STAGE_IDS, STAGE_MODULES  # noqa: E402

# The repository the notebooks clone where they run alone (Colab, Kaggle), set here once for every notebook:
# OWNER is to be replaced by its owner when the repository is published (it has no public address yet). Until
# then a first cell that finds no clone stops with STOP, in the notebook's language, instead of a failed clone.
REPO_URL = "https://github.com/OWNER/BabyGPT.git"
STOP = {  # one line, in parts as the cell writes it
    "en": (
        "REPO_URL still holds a placeholder: set REPO_URL at the top of the first code cell to the address ",
        "you cloned BabyGPT from (or upload the repository folder as babygpt/ beside this notebook), then run it again",
    ),
    "zh": (
        "REPO_URL 还是一个占位地址：请把第一个代码单元格开头的 REPO_URL 改成你克隆 BabyGPT 时用的地址",
        "（或者把仓库文件夹上传到这个笔记本旁边，命名为 babygpt/），然后重新运行",
    ),
}


def find_the_repository(then=""):
    """The code that finds the repository or clones it (then: lines run after a fresh clone), in English and in
    Chinese: the same code but for the line that stops, at the placeholder address, in the notebook's language."""
    return tuple(
        "# the repository: the folder above this notebook, the current one, an earlier clone, or a fresh clone\n"
        'places = [Path.cwd().parent, Path.cwd(), Path.cwd() / "babygpt"]\n'
        'ROOT = next((p for p in places if (p / "babygpt_v1.py").exists()), None)\n'
        'if ROOT is None and "/OWNER/" in REPO_URL:  # the placeholder: no address to clone from\n'
        "    raise SystemExit(\n" + "".join(f'        "{part}"\n' for part in STOP[language]) + "    )\n"
        "if ROOT is None:\n"
        '    subprocess.run(["git", "clone", "--depth", "1", REPO_URL, "babygpt"], check=True)\n'
        '    ROOT = Path("babygpt").resolve()\n' + then + "sys.path.insert(0, str(ROOT))"
        for language in ("en", "zh")
    )


KERNEL = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}

# stage id | the idea in English | in Chinese, as the README's table names them; the stages' modules come from
# the one registry, babygpt/checkpoint.py
IDEAS_TABLE = """
v1  | a neural bigram model | 神经网络版的二元模型
v2  | a learned position embedding | 可学习的位置嵌入
v3  | one head of causal self-attention | 一个因果自注意力头
v4  | several heads in parallel | 几个注意力头并行计算
v5  | a feed-forward layer after attention | 注意力之后加一个前馈网络
v6  | Blocks stacked n_layer deep | 堆叠 n_layer 个 Block
v7  | residual connections | 残差连接
v8  | projections, and a 4 × wider feed-forward | 投影层，以及宽 4 倍的前馈网络
v9  | layer norm | 层归一化
v10 | dropout | dropout
v11 | only the hyperparameters: bigger | 只改超参数：更大
v12 | experiment tracking | 实验跟踪
"""
IDEAS = {
    stage.strip(): (idea, idea_zh)
    for stage, idea, idea_zh in (row.split(" | ") for row in IDEAS_TABLE.strip().splitlines())
}
assert tuple(IDEAS) == STAGE_IDS, "notebooks/make.py: IDEAS names the stages of babygpt/checkpoint.py, in order"
FIRST_WITH_ATTENTION = 3

# Two lines of ci, repeated: the tiny text of the tests' run, holding the default prompts' characters
TINY_TEXT = "春花秋月何时了，往事知多少。\\n春江潮水连海平，海上明月共潮生。\\n"

GET_THE_CODE = tuple(
    f'''import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_URL = "{REPO_URL}"  # cloned where the notebook runs alone
TINY = os.environ.get("BABYGPT_TINY") == "1"  # the tests' run: a tiny model on a tiny text, seconds on a CPU

'''
    + find
    + f'''

if TINY:
    corpus = Path(tempfile.mkdtemp()) / "tiny.txt"
    corpus.write_text("{TINY_TEXT}" * 40, encoding="utf-8")
else:
    corpus = ROOT / "data" / "ci.txt"  # the Song ci: 2,062,696 characters
    if not corpus.exists():  # built once: an 85 MB download, about ten seconds
        subprocess.run([sys.executable, str(ROOT / "data" / "prepare.py")], check=True)
print("repository:", ROOT, "| corpus:", corpus)'''
    for find in find_the_repository()
)

SHOW = '''import io

from IPython.display import Image, display


def png(figure):
    """A matplotlib Figure as a picture the notebook shows (no pyplot: nothing global, no window)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    return Image(buffer.getvalue())'''


def stage_options(number):
    """The options cell: the learner's run (training length, then sizes where they differ from the stage's
    defaults), then the tests' tiny run, each as a command line."""
    if number <= 10:
        lines = ['options = "--max_iters 1000 --eval_interval 100 --eval_iters 20"  # a fifth of its 5,000 steps']
    else:
        lines = [
            'options = "--max_iters 500 --eval_interval 50 --eval_iters 20"  # the CPU command, a third of its steps',
            'options += " --batch_size 16 --block_size 64 --n_embed 128 --n_head 4 --n_layer 4 --learning_rate 1e-3"',
            'options += " --dropout 0.1"',
        ]
    sizes = "--batch_size 4 --block_size 8 --n_embed 16" + (" --n_head 2" if number >= 4 else "")
    sizes += " --n_layer 1" if number >= 6 else ""
    lines += [
        "if TINY:  # the tests' run: 10 steps of a tiny model",
        '    options = "--max_iters 10 --eval_interval 5 --eval_iters 2"',
        f'    options += " {sizes}"',
    ]
    return "\n".join(lines) + "\n"


def stage_cells(number):
    """The cells of stage number's notebook: (kind, English, Chinese); a code cell's two texts are the same."""
    module = STAGE_MODULES[f"v{number}"]
    idea, idea_zh = IDEAS[f"v{number}"]
    file = f"{module}.py"
    previous = f"{STAGE_MODULES[f'v{number - 1}']}.py" if number > 1 else None
    cells = [
        (
            "markdown",
            f"# BabyGPT v{number}: {idea}\n\n"
            f"[中文](v{number}.zh.ipynb) · [the lesson](../docs/learn/v{number}.md) · "
            "[all notebooks](../docs/notebooks.md)\n\n"
            f"This notebook runs `{file}` itself: it imports the stage and calls the stage's own functions "
            "(`parse_args`, `setup`, the model class `BabyGPT`, `train`, `sample`), so what you see here is what "
            "the script does, one step at a time. Run the cells in order, from the top; each one says what it "
            "shows. On a laptop's CPU the whole notebook takes "
            + ("a minute or two" if number <= 10 else "two to four minutes")
            + ", most of it training.",
            f"# BabyGPT v{number}：{idea_zh}\n\n"
            f"[English](v{number}.ipynb) · [这一课](../docs/learn/v{number}.zh.md) · "
            "[所有笔记本](../docs/notebooks.zh.md)\n\n"
            f"这个笔记本运行的就是 `{file}` 本身：它导入这个阶段，调用阶段自己的函数（`parse_args`、`setup`、"
            "模型类 `BabyGPT`、`train`、`sample`），所以你在这里看到的就是脚本做的事，只是一步一步地做。请从上往下"
            "依次运行每个单元格，每个单元格都说明它展示什么。"
            f"在笔记本电脑的 CPU 上，整个笔记本大约{'一两' if number <= 10 else '两到四'}分钟，大部分时间在训练。",
        ),
        (
            "markdown",
            "## The code and the corpus\n\n"
            "The first cell finds the repository (or, on Colab or Kaggle, clones it) and the corpus `data/ci.txt` "
            "(or builds it with `data/prepare.py`).",
            "## 代码和语料\n\n"
            "第一个单元格找到本仓库（在 Colab 或 Kaggle 上则先克隆它），再找到语料 `data/ci.txt`"
            "（没有就用 `data/prepare.py` 构建）。",
        ),
        ("code", *GET_THE_CODE),
        (
            "markdown",
            "## The stage and its options\n\n"
            "Every hyperparameter of the stage is a command-line option; `parse_args` reads a list of them, as the "
            "script reads its command line. This run trains for fewer steps than the script (and v11 and v12 at "
            "the CPU command's size), so that it takes a minute; the rest are the stage's defaults.",
            "## 阶段和它的选项\n\n"
            "阶段的每个超参数都是一个命令行选项；`parse_args` 读一个选项列表，就像脚本读它的命令行一样。"
            "这次运行训练的步数比脚本少（v11 和 v12 还用 CPU 命令的尺寸），"
            "大约一分钟就能跑完；其余都是阶段的默认值。",
        ),
        (
            "code",
            f"import {module} as stage\n\n"
            + stage_options(number)
            + 'args = stage.parse_args([*options.split(), "--data", str(corpus)])\n'
            + 'print(stage.__doc__.split("\\n\\n")[0])\n'
            "print(args)",
        ),
        (
            "markdown",
            "## setup(): the corpus, the tokenizer, a fresh model\n\n"
            "`setup` reads the corpus, builds the tokenizer (one id per character), splits the text into training "
            "and validation data and builds an untrained model. Printing the model lists its layers.",
            "## setup()：语料、分词器和一个新模型\n\n"
            "`setup` 读入语料，建立分词器（每个字符一个编号），把文本分成训练数据和验证数据，再建一个还没训练过的模型。"
            "打印模型就能看到它的各层。",
        ),
        (
            "code",
            "ready = stage.setup(args)\n"
            "model, tokenizer = ready.model, ready.tokenizer\n"
            'print(f"{len(ready.text):,} characters, vocabulary {tokenizer.vocab_size:,}, device {ready.device}")\n'
            'print(f"{sum(p.numel() for p in model.parameters()):,} parameters")\n'
            "model",
        ),
        (
            "markdown",
            "## Shapes: one batch through the model\n\n"
            "A batch is `B` windows of `T` characters (`x`) and the same windows shifted by one (`y`, the "
            "characters that come next). The model gives, at every position, a score for every character of the "
            "vocabulary (`logits`), and the loss says how surprised it was by the real next characters. Untrained, "
            "the loss is close to an even guess, ln(vocabulary size).",
            "## 形状：一批数据穿过模型\n\n"
            "一批数据是 `B` 个长 `T` 个字符的窗口（`x`），以及把它们各向后移一位得到的窗口（`y`，即紧接着的字符）。"
            "模型在每个位置为词表里的每个字符打一个分（`logits`），损失衡量它对真正的下一个字有多意外。"
            "没训练过时，损失接近均匀瞎猜的 ln(词表大小)。",
        ),
        (
            "code",
            "import math\n\n"
            "x, y = stage.get_batch(ready.train_data, 4, args.block_size)\n"
            "logits, loss = model(x, y)\n"
            'print("x", tuple(x.shape), "y", tuple(y.shape), "logits", tuple(logits.shape))\n'
            'print(repr(tokenizer.decode(x[0].tolist())), "->", repr(tokenizer.decode(y[0].tolist())))\n'
            'print(f"loss {loss.item():.3f}; an even guess: ln {tokenizer.vocab_size} = '
            '{math.log(tokenizer.vocab_size):.3f}")',
        ),
        (
            "markdown",
            "## Training, the loss curve drawn as it goes\n\n"
            "The stage's own `train` calls `report(metrics)` at every evaluation: here `report` prints the line "
            "the script prints and redraws the curve. The val loss is measured on text the model never trains on.",
            "## 训练，边训练边画损失曲线\n\n"
            "阶段自己的 `train` 每次评估时调用 `report(metrics)`：这里的 `report` 打印脚本会打印的那一行，"
            "再重画曲线。验证损失是在模型从不训练的文本上测的。",
        ),
        ("code", SHOW),
        (
            "code",
            "from matplotlib.figure import Figure\n\n"
            "history = []\n"
            'figure = Figure(figsize=(7, 3.5), layout="tight")\n'
            "axes = figure.subplots()\n"
            "shown = display(png(figure), display_id=True)  # one picture, redrawn at every evaluation\n\n\n"
            "def report(metrics):\n"
            '    """What the stage\'s train() calls at every evaluation: print its line, redraw the curve."""\n'
            "    history.append(metrics)\n"
            "    stage.print_report(metrics)\n"
            "    axes.clear()\n"
            '    steps = [m["step"] for m in history]\n'
            '    axes.plot(steps, [m["train_loss"] for m in history], marker="o", label="train")\n'
            '    axes.plot(steps, [m["val_loss"] for m in history], marker="o", label="val")\n'
            f'    axes.set(xlabel="step", ylabel="loss (nats)", title="v{number}: loss as it trains")\n'
            "    axes.legend()\n"
            "    shown.update(png(figure))\n\n\n"
            "final = stage.train(model, ready.train_data, ready.val_data, args, report)",
        ),
        (
            "markdown",
            "## Sampling\n\n"
            "`sample` continues each prompt by 100 characters, one at a time, each drawn from the model's "
            + ("probabilities, with dropout off." if number >= 10 else "probabilities."),
            "## 采样\n\n"
            "`sample` 把每个提示词往下续写 100 个字，一次一个，每个字都按模型给出的概率抽取"
            + ("，采样时不用 dropout。" if number >= 10 else "。"),
        ),
        ("code", "samples = stage.sample(model, tokenizer, args.prompt, 100)"),
    ]
    if number >= FIRST_WITH_ATTENTION:
        cells += [
            (
                "markdown",
                "## Attention: where each character looks\n\n"
                "Each head's `forward` turns its scores into weights with `F.softmax`: row *i* of a head's weights "
                "says how much character *i* takes from each character before it (the future is masked, white). "
                "For one forward pass the cell below hands the stage a stand-in for `F` whose `softmax` also keeps "
                "what it returns, so these are the trained model's own weights, not a recomputation. The labels are "
                "Chinese characters: without a CJK font (Colab has none) they show as ids.",
                "## 注意力：每个字在看哪里\n\n"
                "每个头的 `forward` 用 `F.softmax` 把打分变成权重：一个头的权重矩阵第 *i* 行表示第 *i* 个字从它前面的"
                "每个字各取多少（未来被遮住，显示为白色）。下面的单元格在一次前向计算里给阶段换上一个替身 `F`，"
                "它的 `softmax` 会顺手留下自己的结果，所以这里画的就是训练好的模型自己的权重，而不是重新算出来的。"
                "坐标轴上的标签是汉字；没有中日韩字体（Colab 上就没有）时改用字符编号。",
            ),
            (
                "code",
                "import torch\n\n"
                "from babygpt.pictures import attention_figure, find_font, show_character\n\n\n"
                "class KeepSoftmax:\n"
                '    """torch.nn.functional, but softmax also keeps what it returns: one (1, T, T) per head."""\n\n'
                "    def __init__(self):\n"
                "        self.weights = []\n\n"
                "    def __getattr__(self, name):\n"
                "        return getattr(torch.nn.functional, name)\n\n"
                "    def softmax(self, *args, **kwargs):\n"
                "        self.weights.append(torch.nn.functional.softmax(*args, **kwargs))\n"
                "        return self.weights[-1]\n\n\n"
                "text = samples[0][1][: args.block_size]  # the first sample's first block_size characters\n"
                "ids = tokenizer.encode(text)\n"
                "keep = KeepSoftmax()\n"
                "model.eval()\n"
                "stage.F = keep  # the heads call F.softmax: for this one forward pass it is ours\n"
                "try:\n"
                "    with torch.no_grad():\n"
                "        model(torch.tensor([ids], device=ready.device))\n"
                "finally:\n"
                "    stage.F = torch.nn.functional\n"
                'n_layer = len(model.blocks) if hasattr(model, "blocks") else 1\n'
                "weights = torch.cat(keep.weights).view(n_layer, -1, len(ids), len(ids)).cpu()  # (layer, head, T, T)\n"
                'print("attention weights", tuple(weights.shape), "(layers, heads, T, T); each row sums to 1")\n'
                "fonts = find_font(text)\n"
                "labels = [show_character(ch) for ch in text] if fonts else [str(i) for i in ids]\n"
                f'title = "v{number}: attention over " + "".join(labels)\n'
                "display(png(attention_figure(weights, labels, title, fonts)))",
            ),
        ]
    next_step_en = (
        f"Next: `diff -u {previous} {file}` shows everything this stage adds to the one before. " if previous else ""
    )
    next_step_zh = f"接下来：`diff -u {previous} {file}` 显示这个阶段在上一个阶段之上加了什么。" if previous else ""
    cells.append(
        (
            "markdown",
            "## Try\n\n"
            f"{next_step_en}Change one option in the options cell (a larger `--max_iters`, another "
            "`--learning_rate`) and run the notebook again from the top: the curve and the samples show what it "
            f"changed. The lesson, [v{number}](../docs/learn/v{number}.md), has exercises with measured answers."
            + (f" Then the next stage: [v{number + 1}](v{number + 1}.ipynb)." if number < 12 else ""),
            "## 动手试试\n\n"
            f"{next_step_zh}在选项单元格里改一个选项（加大 `--max_iters`，或换一个 `--learning_rate`），"
            "再从头运行一遍：曲线和生成的文字会告诉你它改变了什么。"
            f"[v{number} 这一课](../docs/learn/v{number}.zh.md)里有带实测答案的练习。"
            + (f"然后是下一个阶段：[v{number + 1}](v{number + 1}.zh.ipynb)。" if number < 12 else ""),
        )
    )
    return cells


# ----------------------------------------------------------------------------
# The cloud-GPU notebook: the whole path on one GPU, in the order a GPU user meets it

CLOUD_SETUP = f'''import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO_URL = "{REPO_URL}"  # the one place this notebook names it
TINY = os.environ.get("BABYGPT_TINY") == "1"  # the tests' run: every step at a tiny size, on the CPU

if torch.cuda.is_available():
    gpu = torch.cuda.get_device_properties(0)
    capability = torch.cuda.get_device_capability(0)
    print(f"GPU: {{gpu.name}}, {{gpu.total_memory / 2**30:.0f}} GiB, compute capability {{capability}}")
    DTYPE = "bfloat16" if capability >= (8, 0) else "float16"  # bfloat16 from the A100 (Ampere) on
    COMPILE = ["--compile", "--compile_mode", "reduce-overhead"] if capability >= (7, 0) else []  # Triton needs 7.0
elif TINY:
    print("no GPU: the tests' tiny run, on the CPU")
    DTYPE, COMPILE = "float32", []
else:
    raise RuntimeError("no GPU: on Colab, Runtime > Change runtime type > a GPU; on Kaggle, Settings > Accelerator")
print("training in", DTYPE, "with torch.compile" if COMPILE else "without compiling", "| torch", torch.__version__)
times = {{}}  # step -> seconds, shown together at the end'''

CLOUD_CODE = tuple(
    find
    + '''
OUT = Path(tempfile.mkdtemp()) if TINY else ROOT / "out"  # the run folders: checkpoints, metrics, loss curves

import babygpt_playground  # noqa: E402
import babygpt_sample  # noqa: E402
import babygpt_train  # noqa: E402


def run(script, *options):
    """script.main() on these options: what `python SCRIPT.py OPTIONS` does, in this notebook. Its seconds."""
    options = [str(option) for option in options]
    print("$ python", f"{script.__name__}.py", *options, flush=True)
    start = time.perf_counter()
    script.main(options)
    return time.perf_counter() - start'''
    for find in find_the_repository(
        then="    # what training needs, and the playground's Gradio; not requirements-dev.txt, whose ipykernel would"
        " replace\n    # the one this notebook runs in\n"
        '    pip = [sys.executable, "-m", "pip", "install", "-q", "-r", str(ROOT / "requirements.txt"), '
        '"gradio>=6.0"]\n'
        "    subprocess.run(pip, check=True)\n"
    )
)

CLOUD_CORPUS = """start = time.perf_counter()
if TINY:  # two tiny texts instead of the two corpora
    CI, SHAKESPEARE = OUT / "ci.txt", OUT / "shakespeare.txt"
    CI.write_text("春花秋月何时了，往事知多少。\\n春江潮水连海平，海上明月共潮生。\\n" * 40, encoding="utf-8")
    SHAKESPEARE.write_text("ROMEO:\\nBut soft, what light through yonder window breaks?\\n\\n" * 40, encoding="utf-8")
else:
    CI, SHAKESPEARE = ROOT / "data" / "ci.txt", ROOT / "data" / "shakespeare.txt"
    subprocess.run([sys.executable, str(ROOT / "data" / "prepare.py")], check=True)
    subprocess.run([sys.executable, str(ROOT / "data" / "prepare.py"), "shakespeare"], check=True)
times["the code and the corpora"] = time.perf_counter() - start"""

CLOUD_SIZE = """# the tests' run: 10 steps of a tiny model on the CPU; on a GPU, nothing: the full size
TINY_SIZE = "--device cpu --max_iters 10 --eval_interval 5 --eval_iters 2 --batch_size 4 --block_size 16"
TINY_SIZE = (TINY_SIZE + " --n_embed 16 --n_head 2 --n_layer 1 --warmup_iters 2").split() if TINY else []
CHARACTERS = 20 if TINY else 500  # how much each sample writes
RECORD = ["--wandb_mode", "disabled", "--overwrite"]  # the run folder records the run; no wandb account needed"""

CLOUD_V11 = """times["v11, full size, on the ci"] = run(
    babygpt_train, "--data", CI, "--dtype", DTYPE, *COMPILE, "--out_dir", OUT / "ci", *RECORD, *TINY_SIZE
)"""

CLOUD_LECTURE = """LECTURE = "--learning_rate 3e-4 --warmup_iters 0 --lr_decay none --grad_clip 0 --beta2 0.999"
LECTURE = [*LECTURE.split(), "--weight_decay", "0.01"]  # the lecture's optimizer: AdamW, constant rate
options = ["--data", SHAKESPEARE, *LECTURE, "--dtype", DTYPE, *COMPILE, "--out_dir", OUT / "lecture", *RECORD]
times["the lecture's run, tiny shakespeare"] = run(babygpt_train, *options, *TINY_SIZE)"""

CLOUD_SAMPLE = """\
shakespeare = run(babygpt_sample, "--checkpoint", OUT / "lecture", "--prompt", "ROMEO:", "--max_new_tokens", CHARACTERS)
times["sampling"] = shakespeare + run(babygpt_sample, "--checkpoint", OUT / "ci", "--max_new_tokens", CHARACTERS)"""

CLOUD_PLAYGROUND = """gr = babygpt_playground.import_gradio()
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
checkpoints = [str(OUT / "lecture" / "checkpoint.pt"), str(OUT / "ci" / "checkpoint.pt")]
page = babygpt_playground.build_page(babygpt_playground.Playground(checkpoints, device, 1337))
options = babygpt_playground.launch_options("127.0.0.1", None, gr)
page.launch(**{**options, "share": not TINY}, prevent_thread_lock=True)  # share: a public link, as Colab needs
if TINY:
    page.close()"""

CLOUD_TIMES = """where = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "the CPU"
print(f"on {where}, torch {torch.__version__}, {DTYPE}{', compiled' if COMPILE else ''}:")
for name, seconds in times.items():
    print(f"  {name:40} {seconds / 60:6.1f} min")"""


def cloud_cells():
    """The cells of the cloud-GPU notebook: (kind, English, Chinese)."""
    return [
        (
            "markdown",
            "# BabyGPT on a cloud GPU: the whole path\n\n"
            "[中文](cloud_gpu.zh.ipynb) · [how to open the notebooks](../docs/notebooks.md)\n\n"
            "v11 and v12 at their real size, and the lecture's run on tiny shakespeare (val loss 1.48 in Karpathy's "
            "lecture), are GPU work: hours on a laptop, minutes on a GPU. This notebook takes one free or rented "
            "GPU through the whole path, in order: check the GPU; get the code and the corpora; train v11's model "
            "at its full size on the ci corpus with the trainer `babygpt_train.py` (bfloat16, all heads fused, "
            "`torch.compile`); train the lecture's run; sample from both; open the playground on them.\n\n"
            "**What it needs.** A CUDA GPU: on Colab, *Runtime → Change runtime type → T4 GPU* (free); on Kaggle, "
            "*Settings → Accelerator → GPU* (free, with a verified phone number); or any rented machine with "
            "Jupyter and PyTorch. Under 1 GB of disk (the ci corpus is an 85 MB download; each run folder holds two "
            "checkpoints of 130 to 190 MB). A GPU older than the A100 (a T4, a P100) has no bfloat16: the notebook "
            "trains in float16 there, and without `torch.compile` on a P100.\n\n"
            "**How long.** Measured so far on an H100 only, with `python -m bench gpu` (the page "
            "[Speed](../docs/speed.md) gives its table): the lecture's run took 0.7 to 1.2 minutes and reached val "
            "loss 1.541 and 1.544; v11's model trained at 2.5 million tokens/s, so its 5,000 steps of 16,384 "
            "tokens are about half a minute of training, plus compiling and evaluation. On a free T4 these steps "
            "are still to be measured: run the notebook, and its last cell prints the time of each step on your GPU. "
            "By its FLOPs (about 8 × 10¹⁵ for v11's run) a T4 at 10 TFLOP/s would take about 15 minutes for it.\n\n"
            "**Where a session ends.** Colab's free tier gives a machine for at most about 12 hours, fewer when it "
            "is busy, and takes it back after about 90 minutes without activity; Kaggle gives 12 hours a session "
            "and about 30 GPU hours a week. The runs here fit with room to spare. A longer run (a larger "
            "`--max_iters`) can be cut: the trainer writes `checkpoint.pt` into its run folder at every "
            "evaluation, so keep the run folder where the session's end does not delete it (Google Drive on Colab, "
            "a saved version's output on Kaggle) and, in a new session, continue it to the same losses as a run "
            "never stopped: `python babygpt_train.py --resume out/ci`.",
            "# 在云端 GPU 上跑 BabyGPT：完整流程\n\n"
            "[English](cloud_gpu.ipynb) · [怎样打开这些笔记本](../docs/notebooks.zh.md)\n\n"
            "完整尺寸的 v11 和 v12，以及课程在 tiny shakespeare 上的那次训练（Karpathy 课程里验证损失 1.48），"
            "都是 GPU 的活儿：在笔记本电脑上要几个小时，在 GPU 上只要几分钟。这个笔记本用一块免费或租来的 GPU，"
            "按顺序走完整个流程：检查 GPU；获取代码和语料；"
            "用训练脚本 `babygpt_train.py`（bfloat16、所有注意力头融合计算、"
            "`torch.compile`）在宋词语料上训练完整尺寸的 v11 模型；再做课程的那次训练；从两个模型采样；"
            "最后在它们上面打开演练场。\n\n"
            "**需要什么。** 一块 CUDA GPU：在 Colab 上选 *Runtime → Change runtime type → T4 GPU*（免费）；"
            "在 Kaggle 上选 "
            "*Settings → Accelerator → GPU*（免费，需要验证手机号）；或者任何一台装有 Jupyter 和 PyTorch 的租用机器。"
            "磁盘不到 1 GB（宋词语料要下载 85 MB；每个运行目录有两个检查点，各 130 到 190 MB）。比 A100 老的 GPU"
            "（T4、P100）不支持 bfloat16，笔记本在上面改用 float16；在 P100 上也不用 `torch.compile`。\n\n"
            "**要多久。** 目前只在 H100 上测过，命令是 `python -m bench gpu`（表格见[速度](../docs/speed.zh.md)一页）："
            "课程的那次训练用了 0.7 到 1.2 分钟，验证损失为 1.541 和 1.544；v11 的模型每秒训练 250 万个词元，"
            "所以它的 5,000 步、每步 16,384 个词元，训练本身约半分钟，另加编译和评估的时间。在免费的 T4 上，"
            "这几步的用时还有待实测：运行这个笔记本，最后一个单元格会打印每一步在你的 GPU 上用了多久。"
            "按计算量估算（v11 这次训练约 8 × 10¹⁵ 次浮点运算），每秒 10 TFLOP 的 T4 大约需要 15 分钟。\n\n"
            "**会话在哪里被切断。** Colab 免费版一次最多给一台机器用大约 12 小时，繁忙时更短，闲置约 90 分钟就会收回；"
            "Kaggle 每次会话 12 小时，每周约 30 个 GPU 小时。这里的几次训练都绰绰有余。更长的训练（更大的 "
            "`--max_iters`）可能被切断：训练脚本每次评估都会把 `checkpoint.pt` 写进运行目录，所以要把运行目录放在"
            "会话结束也不会删掉的地方（Colab 上放 Google Drive，Kaggle 上保存一个版本的输出），到新的会话里接着训练，"
            "损失和从未中断的训练完全一样：`python babygpt_train.py --resume out/ci`。",
        ),
        (
            "markdown",
            "## 1. Check the GPU\n\n"
            "Which GPU this session got, its memory, and what it can do: bfloat16 from compute capability 8.0 "
            "(A100, L4, H100), `torch.compile` from 7.0 (T4 on).",
            "## 1. 检查 GPU\n\n"
            "看看这次会话分到了哪块 GPU、多少显存、能做什么：计算能力 8.0 起（A100、L4、H100）支持 bfloat16，"
            "7.0 起（T4 及以后）能用 `torch.compile`。",
        ),
        ("code", CLOUD_SETUP),
        (
            "markdown",
            "## 2. The code and the corpora\n\n"
            "On Colab or Kaggle this notebook runs alone: the cell clones the repository and installs "
            "`requirements.txt` and Gradio, for the playground (PyTorch is already there). "
            "Then `data/prepare.py` builds the ci corpus "
            "and tiny shakespeare. Each script below runs in this notebook through its own `main()`, exactly as "
            "its command line (printed above its output) would run it.",
            "## 2. 代码和语料\n\n"
            "在 Colab 或 Kaggle 上，这个笔记本是单独打开的：下面的单元格会克隆本仓库，"
            "安装 `requirements.txt` 和演练场要用的 Gradio（PyTorch 已经装好了）。"
            "然后 `data/prepare.py` 构建宋词语料和 tiny shakespeare。"
            "后面每个脚本都通过它自己的 `main()` 在这个笔记本里运行，效果和它的命令行（打印在输出上方）完全一样。",
        ),
        ("code", *CLOUD_CODE),
        ("code", CLOUD_CORPUS),
        ("code", CLOUD_SIZE),
        (
            "markdown",
            "## 3. v11 at its real size, on the ci corpus\n\n"
            "v11's model (6 layers, 6 heads, `n_embed` 384, context 256 characters: 15,432,151 parameters on this "
            "vocabulary) for v11's 5,000 steps, through the trainer: the nanoGPT recipe (warmup, cosine decay, "
            "weight decay, clipping), all heads of a layer computed at once, bfloat16 autocast, `torch.compile` "
            "with CUDA graphs. The run folder `out/ci` gets `metrics.csv`, `loss_curve.png`, `samples.txt`, "
            "`checkpoint.pt` and `best.pt`. [The training recipe](../docs/training.md) explains each option.",
            "## 3. 完整尺寸的 v11，在宋词语料上\n\n"
            "v11 的模型（6 层、6 个头、`n_embed` 384、上下文 256 个字符：在这份词表下共 15,432,151 个参数），"
            "按 v11 的 5,000 步，用训练脚本来训练：nanoGPT 的训练配方（预热、余弦衰减、权重衰减、梯度裁剪），"
            "一层的所有头一次算完，bfloat16 混合精度，`torch.compile` 加 CUDA graphs。运行目录 `out/ci` 里会有 "
            "`metrics.csv`、`loss_curve.png`、`samples.txt`、`checkpoint.pt` 和 `best.pt`。"
            "每个选项的作用见[训练配方](../docs/training.zh.md)。",
        ),
        ("code", CLOUD_V11),
        (
            "markdown",
            "## 4. The lecture's run, on tiny shakespeare\n\n"
            "The same model on the lecture's corpus, with the lecture's optimizer: a constant learning rate of "
            "3e-4, no warmup, no clipping, AdamW's default betas, weight decay 0.01. The lecture reached val loss "
            "1.48; this trainer reached 1.541 and 1.544 on an H100 ([the lecture's table](../docs/lecture.md) "
            "says what may make the difference).",
            "## 4. 课程的那次训练，在 tiny shakespeare 上\n\n"
            "同一个模型，换成课程用的语料和课程的优化器设置：学习率固定为 3e-4，不预热，不裁剪梯度，AdamW 的默认 "
            "beta，权重衰减 0.01。课程的验证损失是 1.48；这个训练脚本在 H100 上两次分别是 1.541 和 1.544"
            "（差距可能来自哪里，见[与课程对照](../docs/lecture.zh.md)）。",
        ),
        ("code", CLOUD_LECTURE),
        (
            "markdown",
            "## 5. Sample\n\n"
            "`babygpt_sample.py` loads a run folder's checkpoint and writes with a key/value cache: 500 characters "
            "after `ROMEO:`, and as many for each of the prompts the ci run trained with.",
            "## 5. 采样\n\n"
            "`babygpt_sample.py` 读入运行目录里的检查点，用 KV 缓存生成文字："
            "在 `ROMEO:` 之后写 500 个字符，"
            "再用宋词那次训练的提示词各写 500 个字。",
        ),
        ("code", CLOUD_SAMPLE),
        (
            "markdown",
            "## 6. The playground, on these two models\n\n"
            "The [playground](../docs/playground.md) in the browser: the next-character bar chart, temperature and "
            "top_k, every head's attention, two checkpoints side by side. On Colab and Kaggle the page is served "
            "through Gradio's share link (a public address, printed below, valid for 72 hours); on a rented machine "
            "without it, run `python babygpt_playground.py --host 0.0.0.0` in its terminal and open the port its "
            "console forwards. Stop it with `page.close()`.",
            "## 6. 演练场，打开这两个模型\n\n"
            "在浏览器里打开[演练场](../docs/playground.zh.md)：下一个字的柱状图、温度和 top_k、每个头的注意力、"
            "两个检查点并排比较。在 Colab 和 Kaggle 上，页面通过 Gradio 的分享链接提供（一个公开地址，打印在下面，"
            "72 小时内有效）；在租用的机器上如果用不了分享链接，就在它的终端里运行 "
            "`python babygpt_playground.py --host 0.0.0.0`，再打开机器控制台转发的端口。用 `page.close()` 关闭它。",
        ),
        ("code", CLOUD_PLAYGROUND),
        (
            "markdown",
            "## 7. How long each step took here\n\n"
            "The times of this session, with the GPU's name: the figures to publish beside `bench/measure/gpu.py`'s.",
            "## 7. 每一步在这里用了多久\n\n"
            "这次会话里每一步的用时，连同 GPU 的型号：可以和 `bench/measure/gpu.py` 的数字放在一起发表。",
        ),
        ("code", CLOUD_TIMES),
    ]


# ----------------------------------------------------------------------------
# Lesson 0: the page docs/learn/v0.md (and v0.zh.md) as a notebook, its ```python blocks the code cells

LESSON0 = {"en": ROOT / "docs" / "learn" / "v0.md", "zh": ROOT / "docs" / "learn" / "v0.zh.md"}
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)\n```\n", re.S | re.M)
PRINTED = re.compile(r"\n*<!-- measured: v0-out-\d+ -->\n.*?<!-- end measured -->\n", re.S)  # the page's outputs
MARKER = re.compile(r"<!-- (?:measured: [\w-]+|end measured) -->\n?")
RELATIVE_LINK = re.compile(r"(\]\()(?![a-z]+:|#|/)([^)\s]+)")

LESSON0_SETUP = tuple(
    f'''import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO_URL = "{REPO_URL}"  # cloned where the notebook runs alone
TINY = os.environ.get("BABYGPT_TINY") == "1"  # the tests' run: a tiny data/ci.txt instead of the corpus

'''
    + find
    + f'''

if TINY:  # a folder of its own whose data/ci.txt the cells find before the real one
    os.chdir(tempfile.mkdtemp())
    Path("data").mkdir()
    tiny = "{TINY_TEXT}"
    Path("data", "ci.txt").write_text(tiny * 40, encoding="utf-8")
elif not (ROOT / "data" / "ci.txt").exists():  # built once: an 85 MB download, about ten seconds
    subprocess.run([sys.executable, str(ROOT / "data" / "prepare.py")], check=True)'''
    for find in find_the_repository()
)


def notebook_links(markdown):
    """The page's relative links (docs/learn/) made relative to notebooks/; the language link to the twin."""
    markdown = markdown.replace("](v0.zh.md)", "](v0.zh.ipynb)").replace("](v0.md)", "](v0.ipynb)")

    def move(match):
        if match.group(2).endswith(".ipynb"):  # the twin notebook, beside this one
            return match.group(0)
        target = (LESSON0["en"].parent / match.group(2)).resolve()
        return match.group(1) + Path(os.path.relpath(target, HERE)).as_posix()

    return RELATIVE_LINK.sub(move, markdown)


def page_cells(page):
    """[(kind, text)] of a lesson page: prose (one cell per section) and its ```python blocks, in order."""
    text = PRINTED.sub("\n", page.read_text(encoding="utf-8"))  # the notebook prints its own outputs
    text = MARKER.sub("", text)
    cells, position = [], 0
    for block in PYTHON_BLOCK.finditer(text):
        prose = text[position : block.start()]
        for section in re.split(r"\n(?=## )", prose):
            if section.strip():
                cells.append(("markdown", notebook_links(section.strip())))
        cells.append(("code", block.group(1)))
        position = block.end()
    cells += [
        ("markdown", notebook_links(section.strip()))
        for section in re.split(r"\n(?=## )", text[position:])
        if section.strip()
    ]
    return cells


def lesson0_cells():
    """Lesson 0's cells, (kind, English, Chinese): the pages' cells side by side, after a first code cell that
    finds the repository (and at the tiny size writes a tiny corpus). None while the pages do not exist."""
    if not all(page.exists() for page in LESSON0.values()):
        return None
    english, chinese = page_cells(LESSON0["en"]), page_cells(LESSON0["zh"])
    if [kind for kind, _ in english] != [kind for kind, _ in chinese]:
        raise SystemExit("error: docs/learn/v0.md and v0.zh.md do not have their code and prose in the same order")
    title_en, title_zh = english[0][1], chinese[0][1]
    cells = [
        ("markdown", title_en, title_zh),
        (
            "markdown",
            "This notebook is the page [docs/learn/v0.md](../docs/learn/v0.md) itself: its prose, and its Python "
            "blocks as cells, in order (`python notebooks/make.py` writes it from the page). The first cell finds "
            "the repository (on Colab or Kaggle it clones it) and the corpus; run the cells from the top.",
            "这个笔记本就是 [docs/learn/v0.zh.md](../docs/learn/v0.zh.md) 这一页本身：页面上的文字，以及页面上的 "
            "Python 代码块，按原来的顺序变成一个个单元格（由 `python notebooks/make.py` 从页面生成）。"
            "第一个单元格找到本仓库（在 Colab 或 Kaggle 上则先克隆它）和语料；请从上往下依次运行。",
        ),
        ("code", *LESSON0_SETUP),
    ]
    for (kind, en), (_, zh) in zip(english[1:], chinese[1:], strict=True):
        cells.append((kind, en, zh))
    return cells


def notebook(cells, language, metadata=None):
    """The notebook's JSON text: cells (kind, English, Chinese) in one language, no outputs, stable cell ids."""
    items = []
    for index, (kind, *texts) in enumerate(cells):
        source = texts[0] if len(texts) == 1 or language == "en" else texts[1]  # a code cell may have its own
        cell = {"cell_type": kind, "id": f"cell-{index}", "metadata": {}, "source": source.splitlines(keepends=True)}
        if kind == "code":
            cell.update(execution_count=None, outputs=[])
        items.append(cell)
    document = {"cells": items, "metadata": {**KERNEL, **(metadata or {})}, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, ensure_ascii=False, indent=1, sort_keys=True) + "\n"  # as ruff writes it


def all_notebooks():
    """{file name: JSON text} of every notebook this script writes."""
    written = {}
    lesson0 = lesson0_cells()
    if lesson0 is not None:
        written["v0.ipynb"] = notebook(lesson0, "en")
        written["v0.zh.ipynb"] = notebook(lesson0, "zh")
    for number in range(1, len(STAGE_IDS) + 1):
        cells = stage_cells(number)
        written[f"v{number}.ipynb"] = notebook(cells, "en")
        written[f"v{number}.zh.ipynb"] = notebook(cells, "zh")
    gpu = {"accelerator": "GPU", "colab": {"gpuType": "T4", "provenance": []}}  # Colab opens it on a GPU
    written["cloud_gpu.ipynb"] = notebook(cloud_cells(), "en", gpu)
    written["cloud_gpu.zh.ipynb"] = notebook(cloud_cells(), "zh", gpu)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--check", action="store_true", help="compare with the folder instead of writing")
    args = parser.parse_args(argv)
    written = all_notebooks()
    present = {path.name for path in HERE.glob("*.ipynb")}
    if args.check:
        stale = sorted(
            name
            for name, text in written.items()
            if not (HERE / name).exists() or (HERE / name).read_text(encoding="utf-8") != text
        )
        extra = sorted(present - set(written))
        if stale or extra:
            print(f"not what notebooks/make.py writes: {', '.join(stale + extra)} (run: python notebooks/make.py)")
            return 1
        print(f"{len(written)} notebooks, each what notebooks/make.py writes")
        return 0
    for name, text in written.items():
        (HERE / name).write_text(text, encoding="utf-8")
    for name in sorted(present - set(written)):
        (HERE / name).unlink()
    print(f"wrote {len(written)} notebooks in notebooks/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
