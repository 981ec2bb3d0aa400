"""The two budgets of the progression in one picture, for the learning path (docs/learning-path.md, both languages).

    python -m bench budget_picture      # docs/equal-budget.png and docs/equal-budget.zh.png, and the figures

Every lesson's table has two columns: each stage trained at its own defaults, and each stage trained at one equal
budget. The picture shows what differs between the two, stage by stage: the context length, how many
parameters the model has (data/ci.txt's 6,103 characters) and how many characters a run reads in training
(max_iters × batch_size × block_size). The settings are the runs' own: each stage's defaults, overridden by the
options bench/measure/progression.py gave that run (bench/results/progression.jsonl, seed 1337); v11 at its "defaults"
is the CPU command, as in the progression, and v12 trains exactly as v11. The models are built (a second, no
training) only to count their parameters. The Chinese labels need a CJK font, found through matplotlib's font
manager as babygpt/pictures.py finds it.
"""

import argparse
import importlib
import os
import sys

from bench.runs import ROOT, STAGE_MODULES, load_results

RESULTS = os.path.join(ROOT, "bench", "results", "progression.jsonl")
OUT = os.path.join(ROOT, "docs")
NAME = "equal-budget"
VOCAB_SIZE = 6103  # distinct characters of data/ci.txt
STAGES = [s for s in STAGE_MODULES if s != "v12"]  # v12 trains exactly as v11
WORDS = {
    "en": {
        "title": "The two budgets of every lesson's table",
        "context": "context length (characters)",
        "read": "characters read in training (millions)",
        "params": "parameters (thousands)",
        "defaults": "at its defaults (python babygpt_vN_….py)",
        "equal": "the equal budget (the same for every stage)",
        "stage": "stage",
    },
    "zh": {
        "title": "每一课的表格里的两种预算",
        "context": "上下文长度（字符）",
        "read": "训练时读入的字符数（百万）",
        "params": "参数量（千）",
        "defaults": "默认值（直接运行 python babygpt_vN_….py）",
        "equal": "同一预算（每个阶段都一样）",
        "stage": "阶段",
    },
}


def settings(stage, argv):
    """The stage's hyperparameters with the run's command-line options applied."""
    module = importlib.import_module(STAGE_MODULES[stage])
    values = {name: default for name, (default, _) in module.HYPERPARAMETERS.items()}
    i = 0
    while i < len(argv):
        option = argv[i][2:]
        if "=" in option:
            name, value = option.split("=", 1)
            i += 1
        else:
            name, value = option, argv[i + 1]
            i += 2
        if name in values:
            values[name] = type(values[name])(float(value)) if isinstance(values[name], int) else float(value)
    return module, values


def figures(results):
    """stage -> budget -> (context length, parameters, characters read, settings)."""
    found = {}
    for stage in STAGES:
        found[stage] = {}
        for budget in ("defaults", "equal"):
            key = f"{budget}/{stage}/1337" if stage != "v11" else "defaults/v11/1337"
            module, values = settings(stage, results[key]["argv"])
            model_args = {name: values[name] for name in module.MODEL_HYPERPARAMETERS}
            model = module.BabyGPT(VOCAB_SIZE, **model_args)
            params = sum(p.numel() for p in model.parameters())
            read = values["max_iters"] * values["batch_size"] * values["block_size"]
            found[stage][budget] = (values["block_size"], params, read, values)
    return found


def draw(found, language):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from babygpt.pictures import find_font

    words = WORDS[language]
    fonts = find_font("".join(words.values()))
    if fonts is None:
        sys.exit("error: no installed font draws Chinese; install one (Debian/Ubuntu: apt install fonts-noto-cjk)")
    plt.rcParams["font.family"] = fonts
    plt.rcParams["font.size"] = 14  # shown about 700 px wide on the page: labels as large as the text around it
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(8, 9.5))
    x = list(range(len(STAGES)))
    width = 0.4
    colours = {"defaults": "#8c8c8c", "equal": "#d48806"}
    for ax, (index, label, scale) in zip(axes, [(0, "context", 1), (1, "params", 1e3), (2, "read", 1e6)], strict=True):
        for k, budget in enumerate(("defaults", "equal")):
            values = [found[s][budget][index] / scale for s in STAGES]
            offsets = [i + (k - 0.5) * width for i in x]
            ax.bar(offsets, values, width, label=words[budget], color=colours[budget])
        ax.set_xticks(x, STAGES)
        ax.set_title(words[label], fontsize=14)
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
    axes[2].set_ylim(0, 2.0)
    axes[2].set_xlabel(words["stage"])
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=1, frameon=False)
    fig.suptitle(words["title"], fontsize=16)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    path = os.path.join(OUT, f"{NAME}.png" if language == "en" else f"{NAME}.zh.png")
    tmp = path + ".tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)
    plt.close(fig)
    print(f"  {os.path.relpath(path, ROOT)}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.parse_args(argv)
    results = load_results(RESULTS)
    found = figures(results)
    for stage in STAGES:
        line = [stage]
        for budget in ("defaults", "equal"):
            _, params, read, v = found[stage][budget]
            line.append(
                f"{budget}: {read:,} characters ({v['max_iters']} steps x {v['batch_size']} x {v['block_size']}), "
                f"{params:,} parameters"
            )
        print("  ".join(line))
    for language in WORDS:
        draw(found, language)


if __name__ == "__main__":
    main()
