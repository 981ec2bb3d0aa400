"""Download and build the character-level corpora the BabyGPT stages train on.

    python data/prepare.py                        # -> data/ci.txt
    python data/prepare.py --source DIR           # the same, from a local copy, no network
    python data/prepare.py shakespeare            # -> data/shakespeare.txt
    python data/prepare.py shakespeare --source FILE
    python data/prepare.py --help                 # every option

ci (the default) is the Song-dynasty ci (宋词, ci.song.0.json ... ci.song.21000.json) plus the
Southern Tang ci (南唐词, nantang/poetrys.json) from the chinese-poetry collection (MIT license).
Each poem becomes a line "词牌 作者" (its `rhythmic` and `author` fields), one line per entry
of its `paragraphs`, then a blank line. The same input always gives the same bytes.
U+FFFD replacement characters (36 of them, left in the source data by a broken encoding) are
reported and left out.

Where the ci data comes from, first that works:
  1. --source DIR: a chinese-poetry checkout (宋词/, 五代诗词/nantang/) or the unpacked npm
     package (dist/songci/, dist/wudaishici/nantang/; DIR may also be the folder holding
     dist/ or the package/ folder that unpacking the .tgz creates);
  2. the repository's raw files on GitHub at a pinned commit;
  3. the npm package chinese-poetry@2.0.1 from the npm registry, fetched with `npm pack` (so
     Node.js's npm must be on PATH) and checked against the integrity hash pinned below.

A corpus downloaded from GitHub or npm must be the canonical one (its sha256 is pinned below),
or nothing is written; a --source build may differ, and says so.

shakespeare is tiny shakespeare (1,115,394 characters) from karpathy/char-rnn, or
--source FILE, checked against its known sha256.

Outputs are written next to this script whatever the current folder is, are never committed,
and are kept if already complete (--force rebuilds them). They are written to a temporary file
and renamed into place, so an interrupted run never leaves a truncated corpus.
Standard library only (plus the npm client for step 3).
"""

import argparse
import base64
import difflib
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

DATA_DIR = Path(__file__).resolve().parent
TIMEOUT = 20  # seconds a network read may stall before that source is given up

# chinese-poetry on GitHub, pinned so the corpus cannot change under us. This commit (2023-10-11,
# 宋词/ + 五代诗词/ layout) holds exactly the data published as the npm package below, so both
# sources build the same corpus. (The earlier pin, fa1814a8, has other text corrections and built
# another corpus: 2,062,698 characters, 6,132 distinct, where npm gave 2,062,732 and 6,104.)
GITHUB_COMMIT = "d651e494e0ecb49555f9f473aa7c97ed0e4b53b7"
GITHUB_RAW = "https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/" + GITHUB_COMMIT
SONG_CI_STARTS = range(0, 22000, 1000)  # ci.song.0.json ... ci.song.21000.json, 1000 poems each

# The same data as published on npm, fetched by `npm pack` (the npm client, by package name).
# The integrity value is what npm reported for 2.0.1 and what the packed tarball hashed to;
# a tarball that hashes differently is refused.
NPM_PACKAGE = "chinese-poetry"
NPM_VERSION = "2.0.1"
NPM_SPEC = f"{NPM_PACKAGE}@{NPM_VERSION}"
NPM_TIMEOUT = 300  # seconds `npm pack` may take (an 85 MB tarball) before that source is given up
NPM_INTEGRITY = "sha512-KtYARvV7CWNtax0na9+Jn6PlhGgSoid7PWyDzXI4KsCEm2odZcqEQyval5koaLygZnM/EQ3lfJ//25K8p3uHNg=="

# The ci corpus that GitHub at GITHUB_COMMIT and npm 2.0.1 both build, U+FFFD left out: 21,095 poems,
# 2,062,696 characters, 6,103 distinct. A download that builds anything else is refused; a --source
# build that differs is kept, with a note that the vocabulary and losses will not match the README.
CANONICAL_CI_SHA256 = "c291edb120a27d431864909bdc08dfe5f62bc48e5fe365102c39d4490ee7aaa7"

# U+FFFD, what a decoder writes for bytes it could not read: not part of any poem.
REPLACEMENT_CHARACTER = "\ufffd"

SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"

# Where the two ci files sit, relative to a data root, in each known layout.
LAYOUTS = {
    "chinese-poetry repository": ("宋词", "五代诗词/nantang/poetrys.json"),
    "chinese-poetry npm package": ("songci", "wudaishici/nantang/poetrys.json"),
}
# Only the numbered series. This skips the *.simplified.json twins, the rank files, and
# ci.song.2019y.json (three poems added later, outside the numbered series).
SONG_CI_NAME = re.compile(r"ci\.song\.(\d+)\.json")


class PrepareError(Exception):
    """A problem the user can fix; main() prints it as one "error: ..." line."""


class NetworkError(PrepareError):
    """A download failed; the next source is tried."""


# ----------------------------------------------------------------------------
# Building the ci corpus from a local folder


def find_ci_files(source_dir):
    """Return (song ci files in numeric order, Southern Tang file) under a chinese-poetry copy."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        what = "is not a folder" if source_dir.exists() else "does not exist"
        raise PrepareError(f"source folder {source_dir} {what}")
    # Accept the checkout itself, a package root holding dist/, and the package/ that the .tgz unpacks to.
    for root in (source_dir, source_dir / "dist", source_dir / "package" / "dist"):
        for song_name, nantang_name in LAYOUTS.values():
            song_dir = root / song_name
            if not song_dir.is_dir():
                continue
            nantang_file = root / nantang_name
            if not nantang_file.is_file():
                raise PrepareError(f"found {song_dir} but not {nantang_file}")
            return song_ci_files(song_dir), nantang_file
    expected = " or ".join(f"{song}/ ({layout})" for layout, (song, _) in LAYOUTS.items())
    raise PrepareError(f"no song ci folder in {source_dir}: expected {expected}, directly or under dist/")


def song_ci_files(song_dir):
    """ci.song.N.json files sorted by N as a number: 0, 1000, 2000, ..., not 0, 1000, 10000."""
    numbered = []
    for path in Path(song_dir).iterdir():
        match = SONG_CI_NAME.fullmatch(path.name)
        if match:
            numbered.append((int(match.group(1)), path))
    if not numbered:
        raise PrepareError(f"no ci.song.N.json files in {song_dir}")
    return [path for _, path in sorted(numbered)]


def load_poems(path):
    """The poems of one JSON file, each checked to have the three fields we write out."""
    try:
        poems = json.loads(Path(path).read_bytes().decode("utf-8"))
    except UnicodeDecodeError as e:
        raise PrepareError(f"{path}: not UTF-8 ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise PrepareError(f"{path}: malformed JSON ({e.msg} at line {e.lineno} column {e.colno})") from None
    if not isinstance(poems, list):
        raise PrepareError(f"{path}: expected a JSON list of poems, got {type(poems).__name__}")
    for i, poem in enumerate(poems):
        ok = (
            isinstance(poem, dict)
            and isinstance(poem.get("rhythmic"), str)
            and isinstance(poem.get("author"), str)
            and isinstance(poem.get("paragraphs"), list)
            and all(isinstance(line, str) for line in poem["paragraphs"])
        )
        if not ok:
            raise PrepareError(f"{path}: poem {i} lacks a text rhythmic, author or paragraphs list")
    return poems


def read_ci_poems(source_dir):
    """All poems, song ci in file order then Southern Tang, from a local chinese-poetry copy."""
    song_files, nantang_file = find_ci_files(source_dir)
    poems = []
    for path in [*song_files, nantang_file]:
        poems.extend(load_poems(path))
    return poems


def format_ci(poems):
    """One poem: "词牌 作者", its lines, a blank line."""
    return "".join(
        f"{poem['rhythmic']} {poem['author']}\n" + "".join(line + "\n" for line in poem["paragraphs"]) + "\n"
        for poem in poems
    )


def drop_replacement_characters(text):
    """The text without U+FFFD, and how many there were."""
    removed = text.count(REPLACEMENT_CHARACTER)
    return text.replace(REPLACEMENT_CHARACTER, ""), removed


def build_ci(source_dir):
    """The whole ci corpus as a string, from a local chinese-poetry copy (U+FFFD left out)."""
    return drop_replacement_characters(format_ci(read_ci_poems(source_dir)))[0]


# ----------------------------------------------------------------------------
# Downloads. Every one goes through http_get or npm_pack's subprocess.run, so tests can replace
# them and need no network.


def http_get(url, timeout=TIMEOUT):
    """The body of a GET request; any failure becomes a NetworkError naming the URL."""
    print(f"  GET {url}", flush=True)
    request = urllib.request.Request(url, headers={"User-Agent": "babygpt-prepare"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as e:
        raise NetworkError(f"{url}: HTTP {e.code} {e.reason}") from None
    except urllib.error.URLError as e:
        raise NetworkError(f"{url}: {e.reason}") from None
    except (OSError, http.client.HTTPException) as e:  # timeouts, resets, truncated bodies
        raise NetworkError(f"{url}: {e or type(e).__name__}") from None


def fetch_github(dest_dir):
    """Download the ci files at the pinned commit into dest_dir, in the repository's layout."""
    song_dir, nantang_file = LAYOUTS["chinese-poetry repository"]
    relative_paths = [f"{song_dir}/ci.song.{start}.json" for start in SONG_CI_STARTS] + [nantang_file]
    for relative in relative_paths:
        # The first failure ends this source: no point trying 22 more files against a dead host.
        data = http_get(f"{GITHUB_RAW}/{urllib.parse.quote(relative)}")
        target = Path(dest_dir) / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    return Path(dest_dir)


def npm_integrity(data):
    """The npm "integrity" string (Subresource Integrity, sha512) of some bytes."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def file_integrity(path):
    """npm_integrity of a file's contents, read in pieces (the real tarball is 85 MB)."""
    digest = hashlib.sha512()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return "sha512-" + base64.b64encode(digest.digest()).decode("ascii")


def last_line(text):
    """The last non-blank line of some output, or "no output"."""
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def npm_pack(pack_dir):
    """Run `npm pack chinese-poetry@2.0.1 --json` in pack_dir; return (the .tgz it wrote, the integrity npm reported).

    Every failure to get a tarball at all is a NetworkError, so the caller moves on to the next source.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise NetworkError("npm not found: install Node.js, or pass --source DIR")
    command = [npm, "pack", NPM_SPEC, "--json", "--loglevel=error", "--ignore-scripts"]
    print(f"  {' '.join(['npm', *command[1:]])}", flush=True)
    try:
        result = subprocess.run(
            command, cwd=pack_dir, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=NPM_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise NetworkError(f"npm pack {NPM_SPEC} timed out after {NPM_TIMEOUT} s") from None
    except OSError as e:
        raise NetworkError(f"npm pack {NPM_SPEC} could not run: {e.strerror or e}") from None
    if result.returncode != 0:
        why = last_line(result.stderr) if result.stderr.strip() else last_line(result.stdout)
        raise NetworkError(f"npm pack {NPM_SPEC} exited with status {result.returncode}: {why}")
    try:
        report = json.loads(result.stdout)
        entry = report[0] if isinstance(report, list) else report
        filename, reported = entry["filename"], entry["integrity"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise NetworkError(f"npm pack {NPM_SPEC} printed no --json report: {last_line(result.stdout)}") from None
    tgz = Path(pack_dir) / str(filename)
    if Path(str(filename)).name != filename or not tgz.is_file():
        raise NetworkError(f"npm pack {NPM_SPEC} reported {filename!r} but wrote no such file in {pack_dir}")
    return tgz, reported


def safe_members(archive, wanted):
    """The archive's regular files whose names match wanted; the whole archive is refused if any name could escape."""
    chosen = []
    for member in archive:
        parts = Path(member.name).parts
        if member.name.startswith(("/", "\\")) or Path(member.name).is_absolute() or ".." in parts:
            raise PrepareError(f"{NPM_SPEC}: tarball member {member.name!r} points outside the package")
        # Only regular files with names we chose: nothing else in the archive touches the disk.
        if member.isfile() and wanted.fullmatch(member.name):
            chosen.append(member)
    return chosen


def fetch_npm(dest_dir):
    """`npm pack` chinese-poetry@2.0.1, check it against the pinned hash, unpack the ci files into dest_dir."""
    with tempfile.TemporaryDirectory() as pack_dir:  # npm writes the .tgz here; gone once unpacked
        tgz, reported = npm_pack(pack_dir)
        # Not NetworkErrors: a tampered or republished package must stop the build, not be skipped.
        got = file_integrity(tgz)
        if got != NPM_INTEGRITY:
            raise PrepareError(f"{NPM_SPEC}: tarball integrity {got} does not match the pinned {NPM_INTEGRITY}")
        if reported != NPM_INTEGRITY:
            raise PrepareError(f"{NPM_SPEC}: npm reported integrity {reported} but the pinned one is {NPM_INTEGRITY}")
        print(f"  integrity ok ({tgz.stat().st_size:,} bytes)", flush=True)
        song_dir, nantang_file = LAYOUTS["chinese-poetry npm package"]
        wanted = re.compile(rf"package/dist/({song_dir}/ci\.song\.\d+\.json|{nantang_file})")
        try:
            with tarfile.open(tgz, mode="r:gz") as archive:
                members = safe_members(archive, wanted)
                if hasattr(tarfile, "data_filter"):  # Python 3.12, and 3.8.17 / 3.9.17 / 3.10.12 / 3.11.4 on
                    archive.extractall(dest_dir, members=members, filter="data")
                else:
                    archive.extractall(dest_dir, members=members)  # names checked by safe_members
        except (tarfile.TarError, EOFError) as e:
            raise PrepareError(f"{NPM_SPEC}: unreadable tarball ({e})") from None
    return Path(dest_dir) / "package"


def download_ci(work_dir):
    """Try GitHub, then npm; return (what was used, the folder that holds the ci files), or explain what failed."""
    failures = []
    sources = (
        ("GitHub", f"GitHub chinese-poetry@{GITHUB_COMMIT[:8]}", "fetching chinese-poetry from GitHub", fetch_github),
        ("npm", f"npm {NPM_SPEC}", f"trying npm pack {NPM_SPEC}", fetch_npm),
    )
    for name, origin, progress, fetch in sources:
        print(f"{progress} ...", flush=True)
        target = Path(work_dir) / name
        target.mkdir()
        try:
            return origin, fetch(target)
        except NetworkError as e:
            print(f"  {name} failed: {e}", flush=True)
            failures.append(f"{name} ({e})")
    raise PrepareError(
        "could not download chinese-poetry; tried "
        + "; ".join(failures)
        + f". Pass --source DIR: a chinese-poetry checkout, or `npm pack {NPM_SPEC}` unpacked"
    )


# ----------------------------------------------------------------------------
# Tiny shakespeare


def build_shakespeare(source_file=None):
    """Tiny shakespeare as bytes, from source_file or the web, refused unless its sha256 is the known one."""
    if source_file is None:
        print("fetching tiny shakespeare ...", flush=True)
        data = http_get(SHAKESPEARE_URL)
        origin = SHAKESPEARE_URL
    else:
        if not Path(source_file).is_file():
            raise PrepareError(f"source file {source_file} does not exist")
        data = Path(source_file).read_bytes()
        origin = source_file
    got = hashlib.sha256(data).hexdigest()
    if got != SHAKESPEARE_SHA256:
        raise PrepareError(f"{origin}: sha256 {got} does not match the expected {SHAKESPEARE_SHA256}")
    return data


# ----------------------------------------------------------------------------
# Writing outputs


def write_atomic(path, data):
    """Write bytes to a temporary file in the same folder, then rename it over path."""
    path = Path(path)
    # Same folder, so os.replace is a rename on one file system: readers see the old file or the new, never half.
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp_name, 0o644)  # mkstemp makes the file private; a corpus is for anyone to read
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(data)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException:  # including Ctrl-C: never leave the temporary file behind
        Path(tmp_name).unlink(missing_ok=True)
        raise


def is_complete(corpus, path):
    """Whether an existing output can be kept; returns (yes or no, why)."""
    path = Path(path)
    if not path.is_file():
        return False, "missing"
    data = path.read_bytes()
    if corpus == "shakespeare":
        # A known file: only the exact bytes count as complete.
        return hashlib.sha256(data).hexdigest() == SHAKESPEARE_SHA256, "sha256 differs from tiny shakespeare's"
    # Not only the canonical hash: a --source build may differ and is still finished. Outputs are only ever
    # renamed into place whole, so a well-formed file here is a finished build (or one put here by hand).
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False, "not UTF-8"
    if REPLACEMENT_CHARACTER in text:
        return False, "holds U+FFFD characters: built by an older prepare.py"
    return bool(text) and text.endswith("\n\n"), "empty or not ending with a blank line"


def describe(text):
    return f"{len(text):,} characters, {len(set(text)):,} distinct"


# ----------------------------------------------------------------------------
# Command line


def console_safe_output():
    """Print what the console can encode and replace the rest with "?" (a GBK console on Windows, say), never crash."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):  # a text stream; not None (pythonw) nor some replacement without it
            stream.reconfigure(errors="replace")


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        # One line and no usage block, like every other error of this script.
        print(f"error: {' '.join(message.split())} (see --help)", file=sys.stderr)
        sys.exit(2)


def parse_args(argv):
    parser = ArgumentParser(
        prog="prepare.py",
        description="Build a training corpus in data/ (ci: Song + Southern Tang ci; shakespeare: tiny shakespeare).",
        allow_abbrev=False,  # --f must not silently mean --force
    )
    parser.add_argument("corpus", nargs="?", default="ci", choices=["ci", "shakespeare"], help="default: ci")
    parser.add_argument(
        "--source",
        metavar="PATH",
        help="build from a local copy, no network: for ci a chinese-poetry checkout or unpacked npm package, "
        "for shakespeare the input.txt file",
    )
    parser.add_argument(
        "--output", metavar="FILE", help="where to write (default: data/ci.txt or data/shakespeare.txt)"
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if the output is already complete")
    # a mistyped option first, named as such: else `--sorce x` is reported as an invalid corpus 'x'
    options = [name for action in parser._actions for name in action.option_strings]
    for word in sys.argv[1:] if argv is None else argv:
        name = word.split("=")[0]
        if name.startswith("--") and name not in options:
            close = difflib.get_close_matches(name, options, n=1)
            parser.error(f"unrecognized arguments: {name}" + (f"; did you mean {close[0]}?" if close else ""))
    return parser.parse_args(argv)


def prepare(args):
    output = Path(args.output) if args.output else DATA_DIR / f"{args.corpus}.txt"
    if not output.parent.is_dir():
        raise PrepareError(f"output folder {output.parent} does not exist")
    if not args.force:
        complete, why = is_complete(args.corpus, output)
        if complete:
            print(f"{output} already exists and is complete; keeping it (--force rebuilds)")
            return
        if output.exists():
            print(f"{output} is incomplete or out of date ({why}); rebuilding")

    start = time.perf_counter()
    note = None
    if args.corpus == "shakespeare":
        data = build_shakespeare(args.source)
        summary = describe(data.decode("utf-8"))
    else:
        with tempfile.TemporaryDirectory() as work_dir:  # downloads never land in data/
            if args.source is not None:
                origin, source_dir = None, args.source
            else:
                origin, source_dir = download_ci(work_dir)
            poems = read_ci_poems(source_dir)
        text, removed = drop_replacement_characters(format_ci(poems))
        if removed:
            print(f"left out {removed:,} U+FFFD replacement characters (a broken encoding in the source data)")
        data = text.encode("utf-8")
        summary = f"{len(poems):,} poems, {describe(text)}"
        got = hashlib.sha256(data).hexdigest()
        if got != CANONICAL_CI_SHA256:
            if origin is not None:  # a pinned download that builds something else is not the data we pinned
                raise PrepareError(
                    f"the corpus built from {origin} has sha256 {got}, not the canonical {CANONICAL_CI_SHA256}; "
                    "nothing was written"
                )
            note = (
                f"note: not the canonical ci corpus (sha256 {CANONICAL_CI_SHA256[:12]}...), so vocabulary size, "
                "parameter counts and losses will differ from the README's"
            )
    write_atomic(output, data)
    print(f"wrote {output}: {summary}")
    print(f"sha256 {hashlib.sha256(data).hexdigest()}, {time.perf_counter() - start:.1f} s")
    if note:
        print(note)


def main(argv=None):
    console_safe_output()
    args = parse_args(argv)
    try:
        prepare(args)
    except PrepareError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    except OSError as e:  # disk full, permission denied, ...
        print(f"error: {e.strerror or e}{f': {e.filename}' if e.filename else ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted; nothing was written", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
