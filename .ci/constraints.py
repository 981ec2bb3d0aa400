"""Write constraints.txt: the exact version of every package requirements.txt and requirements-dev.txt name,
as installed in the environment this runs in (CI's, after its tests passed: .ci/run calls it last).

    python .ci/constraints.py            # rewrite constraints.txt from this environment
    python .ci/constraints.py --check    # exit 1, naming the differences, if the file is not what it would write

requirements*.txt keep lower bounds, so a fresh install takes the newest releases. When one of them breaks
something, `pip install -r requirements.txt -c constraints.txt` installs the versions CI last ran instead.
Only the packages the requirements name are pinned, not their own dependencies. torch is pinned without its
local build label (2.13.0, not 2.13.0+cpu), so the same line serves PyTorch's CPU and CUDA builds.
requirements-docs.txt pins its packages itself.
"""

import argparse
import re
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ("requirements.txt", "requirements-dev.txt")
CONSTRAINTS = ROOT / "constraints.txt"
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalize(name):
    """A distribution name as pip compares them (PEP 503): Pytest_Xdist -> pytest-xdist."""
    return re.sub(r"[-_.]+", "-", name).lower()


def required_names(files=REQUIREMENTS, root=ROOT):
    """The normalized names of the packages the requirement files list ('-r FILE' lines are followed)."""
    names, seen = [], set()

    def read(path):
        if path in seen:
            return
        seen.add(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line.startswith(("-r ", "--requirement ")):
                read(path.parent / line.split(maxsplit=1)[1])
            elif line and not line.startswith("-"):
                name = normalize(NAME.match(line).group(1))
                if name not in names:
                    names.append(name)

    for file in files:
        read(root / file)
    return names


def constraints_text(names, version=metadata.version):
    """The constraints file's text for these packages, each at the version this environment holds."""
    lines = [
        "# The exact versions CI last ran, written by: python .ci/constraints.py (from the CI environment).",
        "# Use it when the newest releases break something: pip install -r requirements.txt -c constraints.txt",
    ]
    for name in sorted(names):
        try:
            installed = version(name)
        except metadata.PackageNotFoundError:
            raise SystemExit(f"error: {name} is not installed: pip install -r requirements-dev.txt first") from None
        lines.append(f"{name}=={installed.split('+')[0]}")  # 2.13.0+cpu -> 2.13.0: any build of that release
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--check", action="store_true", help="compare with constraints.txt instead of writing it")
    args = parser.parse_args(argv)
    text = constraints_text(required_names())
    if args.check:
        current = CONSTRAINTS.read_text(encoding="utf-8") if CONSTRAINTS.exists() else ""
        if current != text:
            old, new = set(current.splitlines()), set(text.splitlines())
            print(f"constraints.txt differs from this environment: file {sorted(old - new)}, here {sorted(new - old)}")
            return 1
        print("constraints.txt matches this environment")
        return 0
    current = CONSTRAINTS.read_text(encoding="utf-8") if CONSTRAINTS.exists() else ""
    old, new = set(current.splitlines()), set(text.splitlines())
    changes = [f"+{line}" for line in sorted(new - old)] + [f"-{line}" for line in sorted(old - new)]
    CONSTRAINTS.write_text(text, encoding="utf-8")
    print(f"wrote {CONSTRAINTS.name}: {len(new) - 2} packages; changes: {' '.join(changes) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
