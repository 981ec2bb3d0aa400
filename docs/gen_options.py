"""Write every script's --help into docs/options.md and docs/options.zh.md, so the reference never drifts.

    python docs/gen_options.py          # rewrite the block between <!-- generated: options --> and its end line
    python docs/gen_options.py --check  # exit 1 when the pages differ from what the scripts print now

Each script's own parser prints its help (in this process, 100 columns wide, the script's file name as its
name), so what the pages show is what `python SCRIPT --help` prints. tests/test_docs.py runs --check's
comparison, so a new option or a changed default fails the tests until this script is run again.
"""

import argparse
import contextlib
import importlib
import io
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # run as `python docs/gen_options.py`: the stages and babygpt/ sit in the root
    sys.path.insert(0, ROOT)

from babygpt.checkpoint import STAGE_MODULES  # noqa: E402

PAGES = [os.path.join(ROOT, "docs", "options.md"), os.path.join(ROOT, "docs", "options.zh.md")]
SCRIPTS = [  # (file, module) in reading order: the stages, the tools, the corpus builder
    *[(f"{name}.py", name) for name in STAGE_MODULES.values()],
    *[(f"{name}.py", name) for name in ("babygpt_sample", "babygpt_sweep", "babygpt_train")],
    ("data/prepare.py", "data.prepare"),
    # a script with subcommands: its own --help, then each subcommand's (the third item: the arguments)
    *[
        ("babygpt_exercise.py", "babygpt_exercise", argv)
        for argv in (["--help"], ["start", "--help"], ["check", "--help"])
    ],
]
START, END = "<!-- generated: options -->", "<!-- end generated -->"
WIDTH = "100"


def script_help(file, module_name, argv=("--help",)):
    """What `python FILE --help` (or FILE ARGV) prints, taken from the script's own parser in this process."""
    module = importlib.import_module(module_name)
    out = io.StringIO()
    old_argv, old_columns = sys.argv, os.environ.get("COLUMNS")
    sys.argv, os.environ["COLUMNS"] = [os.path.basename(file)], WIDTH
    try:
        with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
            if hasattr(module, "make_parser"):
                module.make_parser().parse_args(list(argv))
            else:
                module.parse_args(list(argv))
    finally:
        sys.argv = old_argv
        if old_columns is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old_columns
    return out.getvalue().rstrip()


def block():
    """The generated part of both pages: one heading and one code block per script."""
    parts = [START]
    for file, module_name, *argv in SCRIPTS:
        heading = " ".join([file, *argv[0][:-1]]) if argv else file
        parts += ["", f"### {heading}", "", "```text", script_help(file, module_name, *argv), "```"]
    return "\n".join(parts + ["", END])


def filled(text, generated):
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise ValueError(f"no {START} ... {END} block")
    return pattern.sub(lambda _: generated, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 when a page is stale")
    args = parser.parse_args()
    generated = block()
    stale = []
    for path in PAGES:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        new = filled(text, generated)
        if new == text:
            continue
        stale.append(os.path.relpath(path, ROOT))
        if not args.check:
            with open(path + ".tmp", "w", encoding="utf-8") as f:
                f.write(new)
            os.replace(path + ".tmp", path)
    if args.check and stale:
        sys.exit(f"stale: {', '.join(stale)}: run python docs/gen_options.py")
    print(f"{'stale' if args.check else 'rewrote'}: {', '.join(stale) or 'nothing'}")


if __name__ == "__main__":
    main()
