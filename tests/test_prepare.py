"""Tests for data/prepare.py on small fixture folders: no network, no real corpus needed.

Run: python -m pytest tests/test_prepare.py -q
"""

import hashlib
import importlib.util
import io
import json
import os
import shlex
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "data" / "prepare.py"
# A copy of tiny shakespeare that may sit beside the repository (../shared/data); the test that needs it skips without.
REAL_SHAKESPEARE = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"


def load_prepare():
    # data/ is not a package, so import the script from its path.
    spec = importlib.util.spec_from_file_location("prepare", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


prepare = load_prepare()
REAL_HTTP_GET = prepare.http_get  # kept before no_network replaces it, to test it on its own


@pytest.fixture(autouse=True)
def no_network(monkeypatch, tmp_path_factory):
    """Any download a test did not plan for fails that test, and the real npm is never run."""

    def refuse(url, *args, **kwargs):
        pytest.fail(f"unexpected network access: {url}")

    monkeypatch.setattr(prepare, "http_get", refuse)
    monkeypatch.setattr(prepare.urllib.request, "urlopen", refuse)
    # A PATH with nothing on it: no npm unless a test puts its fake one there.
    monkeypatch.setenv("PATH", str(tmp_path_factory.mktemp("empty-path")))


# ----------------------------------------------------------------------------
# Fixture corpora


def poem(rhythmic, author, *lines):
    return {"rhythmic": rhythmic, "author": author, "paragraphs": list(lines)}


SONG = {  # ci.song.N.json -> its poems; one poem per file, named after its file
    0: [poem("浣溪沙", "晏殊", "一曲新词酒一杯。", "去年天气旧亭台。")],
    1000: [poem("蝶恋花", "柳永", "伫倚危楼风细细。")],
    2000: [poem("念奴娇", "苏轼", "大江东去，浪淘尽，千古风流人物。")],
    10000: [poem("声声慢", "李清照", "寻寻觅觅，冷冷清清，凄凄惨惨戚戚。")],
}
NANTANG = [dict(poem("虞美人", "李煜", "春花秋月何时了，往事知多少。"), title="虞美人·春花秋月何时了", notes=["注"])]
# Numeric order 0, 1000, 2000, 10000 (a lexical sort would put 10000 before 2000), then Southern Tang.
EXPECTED = (
    "浣溪沙 晏殊\n一曲新词酒一杯。\n去年天气旧亭台。\n\n"
    "蝶恋花 柳永\n伫倚危楼风细细。\n\n"
    "念奴娇 苏轼\n大江东去，浪淘尽，千古风流人物。\n\n"
    "声声慢 李清照\n寻寻觅觅，冷冷清清，凄凄惨惨戚戚。\n\n"
    "虞美人 李煜\n春花秋月何时了，往事知多少。\n\n"
)

# Where a layout keeps its files under the folder passed as --source.
LAYOUT_DIRS = {
    "repo": ("宋词", "五代诗词/nantang"),
    "dist": ("songci", "wudaishici/nantang"),
    "package-root": ("dist/songci", "dist/wudaishici/nantang"),
    "npm-unpacked": ("package/dist/songci", "package/dist/wudaishici/nantang"),
}


def write_json(path, value):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, ensure_ascii=False, indent=2), encoding="utf-8")


def make_source(root, layout="repo", song=None, nantang=None):
    """A chinese-poetry copy with the given poems in the given layout; returns its folder."""
    song_dir, nantang_dir = LAYOUT_DIRS[layout]
    for start, poems in (SONG if song is None else song).items():
        write_json(root / song_dir / f"ci.song.{start}.json", poems)
    write_json(root / nantang_dir / "poetrys.json", NANTANG if nantang is None else nantang)
    return root


def run(argv, capsys):
    """main(argv) -> (exit code, stdout, stderr)."""
    code = prepare.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], err


def canonical(monkeypatch, text=EXPECTED):
    """Make text the canonical ci corpus, as the real data is for the real pin."""
    monkeypatch.setattr(prepare, "CANONICAL_CI_SHA256", hashlib.sha256(text.encode("utf-8")).hexdigest())


def run_script(*argv, encoding="utf-8", cwd=None):
    """The real entry point in a child process whose console encoding is `encoding`; output decoded with it."""
    return subprocess.run(
        [sys.executable, str(SCRIPT), *map(str, argv)],
        cwd=cwd,
        env={**os.environ, "PYTHONIOENCODING": encoding},
        capture_output=True,
        encoding=encoding,
        timeout=30,
    )


def assert_no_leftovers(folder, name):
    # No output, and no temporary file that an interrupted write might have left.
    assert not (folder / name).exists()
    assert list(folder.glob(f".{name}.*")) == []


# ----------------------------------------------------------------------------
# Building ci.txt


def test_format_and_order(tmp_path):
    assert prepare.build_ci(make_source(tmp_path)) == EXPECTED


@pytest.mark.parametrize("layout", LAYOUT_DIRS)
def test_every_layout_gives_the_same_corpus(tmp_path, capsys, layout):
    source = make_source(tmp_path / "src", layout)
    code, out, err = run(["--source", source, "--output", tmp_path / "ci.txt"], capsys)
    assert code == 0, err
    assert (tmp_path / "ci.txt").read_text(encoding="utf-8") == EXPECTED
    assert "5 poems" in out


def test_song_files_sorted_as_numbers(tmp_path):
    files = prepare.song_ci_files(make_source(tmp_path) / "宋词")
    assert [f.name for f in files] == ["ci.song.0.json", "ci.song.1000.json", "ci.song.2000.json", "ci.song.10000.json"]


def test_simplified_twins_and_other_files_skipped(tmp_path):
    source = make_source(tmp_path)
    for name in ["ci.song.0.simplified.json", "ci.song.2019y.json", "author.song.json", "ci.song.rank.0.json"]:
        write_json(source / "宋词" / name, [poem("不该出现", "某人", "这一行不在语料里。")])
    write_json(source / "五代诗词/nantang/poetrys.simplified.json", [poem("不该出现", "某人", "也不在。")])
    assert prepare.build_ci(source) == EXPECTED


def test_two_builds_are_byte_identical(tmp_path, capsys):
    source = make_source(tmp_path / "src")
    for name in ["a.txt", "b.txt"]:
        assert run(["--source", source, "--output", tmp_path / name], capsys)[0] == 0
    assert (tmp_path / "a.txt").read_bytes() == (tmp_path / "b.txt").read_bytes() == EXPECTED.encode("utf-8")


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes; Windows has only a read-only flag")
def test_output_readable_by_everyone(tmp_path, capsys):
    assert run(["--source", make_source(tmp_path / "src"), "--output", tmp_path / "ci.txt"], capsys)[0] == 0
    assert (tmp_path / "ci.txt").stat().st_mode & 0o777 == 0o644  # not mkstemp's private 0600


def test_default_output_is_next_to_the_script(tmp_path, capsys, monkeypatch):
    assert prepare.DATA_DIR == SCRIPT.parent
    monkeypatch.setattr(prepare, "DATA_DIR", tmp_path)
    monkeypatch.chdir(tmp_path / "..")  # the current folder must not matter
    assert run(["--source", make_source(tmp_path / "src")], capsys)[0] == 0
    assert (tmp_path / "ci.txt").read_text(encoding="utf-8") == EXPECTED


# ----------------------------------------------------------------------------
# Bad input: one line on stderr, non-zero exit, nothing written


def break_json(source):
    (source / "宋词" / "ci.song.1000.json").write_text('[{"rhythmic": "蝶恋花", "author": ', encoding="utf-8")


def drop_nantang(source):
    (source / "五代诗词/nantang/poetrys.json").unlink()
    (source / "五代诗词/nantang").rmdir()


def drop_author(source):
    write_json(source / "宋词" / "ci.song.2000.json", [{"rhythmic": "念奴娇", "paragraphs": ["大江东去"]}])


def not_utf8(source):
    (source / "宋词" / "ci.song.0.json").write_bytes('[{"author": "晏殊"}]'.encode("gbk"))


@pytest.mark.parametrize(
    "damage, words",
    [
        (break_json, ["ci.song.1000.json", "malformed JSON"]),
        (drop_nantang, ["poetrys.json"]),
        (drop_author, ["ci.song.2000.json", "poem 0"]),
        (not_utf8, ["ci.song.0.json", "UTF-8"]),
        (lambda source: os.rename(source / "宋词", source / "songs"), ["no song ci folder"]),
    ],
    ids=["malformed-json", "missing-nantang", "missing-field", "not-utf8", "missing-song-folder"],
)
def test_bad_source_refused(tmp_path, capsys, damage, words):
    source = make_source(tmp_path / "src")
    damage(source)
    code, _, err = run(["--source", source, "--output", tmp_path / "ci.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, *words)
    assert_no_leftovers(tmp_path, "ci.txt")


def test_missing_source_folder_refused(tmp_path, capsys):
    code, _, err = run(["--source", tmp_path / "nowhere", "--output", tmp_path / "ci.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, "nowhere", "does not exist")
    assert_no_leftovers(tmp_path, "ci.txt")


@pytest.mark.parametrize(
    "argv, words",
    [
        (["poems"], ["invalid choice"]),
        (["--bogus"], ["--bogus"]),
        (["--forc"], ["--forc", "did you mean --force?"]),
        (["--sorce", "x"], ["unrecognized arguments: --sorce", "did you mean --source?"]),  # not "invalid choice"
    ],
    ids=["unknown-corpus", "unknown-option", "abbreviated-option", "mistyped-option-before-a-value"],
)
def test_bad_command_line_refused(capsys, argv, words):
    with pytest.raises(SystemExit) as exit_info:
        prepare.main(argv)
    assert exit_info.value.code == 2
    assert_one_error_line(capsys.readouterr().err, "--help", *words)


def test_script_errors_without_traceback(tmp_path):
    # The real entry point, from another folder: exit status and stderr as a user sees them.
    result = run_script("--source", tmp_path / "nowhere", "--output", tmp_path / "ci.txt", cwd=tmp_path)
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "does not exist")


NOT_IN_GBK = "\U0001f600"  # an emoji: a GBK console (Chinese Windows) cannot show it


def test_gbk_console_gets_replacements_not_a_crash(tmp_path):
    with pytest.raises(UnicodeEncodeError):
        NOT_IN_GBK.encode("gbk")
    source = make_source(tmp_path / "src")
    output = tmp_path / f"ci-{NOT_IN_GBK}.txt"  # printed in "wrote ..."
    result = run_script("--source", source, "--output", output, encoding="gbk")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "wrote " in result.stdout and "ci-?.txt: 5 poems" in result.stdout
    assert output.read_text(encoding="utf-8") == EXPECTED
    # Errors too: one line, the unencodable character replaced.
    result = run_script("--source", tmp_path / f"no-{NOT_IN_GBK}", "--output", tmp_path / "ci.txt", encoding="gbk")
    assert result.returncode == 1
    assert_one_error_line(result.stderr, "no-?", "does not exist")


# ----------------------------------------------------------------------------
# U+FFFD and the canonical corpus


BROKEN = {  # the song fixture with U+FFFD where a broken encoding left them, in a line and in an author
    **SONG,
    1000: [poem("蝶恋花", "柳\ufffd永", "伫倚危楼\ufffd\ufffd风细细。")],
}


def test_replacement_characters_left_out_and_counted(tmp_path, capsys):
    code, out, err = run(
        ["--source", make_source(tmp_path / "src", song=BROKEN), "--output", tmp_path / "ci.txt"], capsys
    )
    assert code == 0, err
    assert (tmp_path / "ci.txt").read_text(encoding="utf-8") == EXPECTED
    assert "left out 3 U+FFFD replacement characters" in out
    assert f"{len(EXPECTED)} characters" in out


def test_no_replacement_characters_nothing_said(tmp_path, capsys):
    code, out, _ = run(["--source", make_source(tmp_path / "src"), "--output", tmp_path / "ci.txt"], capsys)
    assert code == 0 and "U+FFFD" not in out


def test_source_build_says_when_not_canonical(tmp_path, capsys, monkeypatch):
    source = make_source(tmp_path / "src")
    code, out, _ = run(["--source", source, "--output", tmp_path / "ci.txt"], capsys)  # the real pin: differs
    assert code == 0
    assert (tmp_path / "ci.txt").read_text(encoding="utf-8") == EXPECTED  # built all the same
    notes = [line for line in out.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and notes[0].startswith("note: not the canonical ci corpus")
    assert prepare.CANONICAL_CI_SHA256[:12] in notes[0]

    canonical(monkeypatch)
    code, out, _ = run(["--source", source, "--output", tmp_path / "ci.txt", "--force"], capsys)
    assert code == 0 and "note:" not in out


def test_canonical_hash_is_of_the_corpus_without_replacement_characters(tmp_path, capsys, monkeypatch):
    canonical(monkeypatch)  # the corpus U+FFFD left out, so a source holding them is still canonical
    code, out, _ = run(
        ["--source", make_source(tmp_path / "src", song=BROKEN), "--output", tmp_path / "ci.txt"], capsys
    )
    assert code == 0 and "note:" not in out


def test_pinned_canonical_hash_is_a_sha256():
    assert len(prepare.CANONICAL_CI_SHA256) == 64 and set(prepare.CANONICAL_CI_SHA256) <= set("0123456789abcdef")


def test_output_with_replacement_characters_is_rebuilt(tmp_path, capsys):
    output = tmp_path / "ci.txt"
    output.write_text(EXPECTED.replace("细细", "细\ufffd细"), encoding="utf-8")  # as an older prepare.py wrote it
    code, out, _ = run(["--source", make_source(tmp_path / "src"), "--output", output], capsys)
    assert code == 0 and "out of date (holds U+FFFD" in out
    assert output.read_text(encoding="utf-8") == EXPECTED


# ----------------------------------------------------------------------------
# Idempotence and atomicity


def test_complete_output_kept_unless_forced(tmp_path, capsys):
    source = make_source(tmp_path / "src")
    output = tmp_path / "ci.txt"
    assert run(["--source", source, "--output", output], capsys)[0] == 0
    write_json(source / "宋词" / "ci.song.3000.json", [poem("水调歌头", "苏轼", "明月几时有。")])

    code, out, _ = run(["--source", source, "--output", output], capsys)
    assert code == 0 and "keeping it" in out
    assert output.read_text(encoding="utf-8") == EXPECTED

    assert run(["--source", source, "--output", output, "--force"], capsys)[0] == 0
    assert "水调歌头 苏轼\n明月几时有。\n\n" in output.read_text(encoding="utf-8")


def test_incomplete_output_rebuilt(tmp_path, capsys):
    output = tmp_path / "ci.txt"
    output.write_text(EXPECTED[:30], encoding="utf-8")  # as if cut off mid-poem
    code, out, _ = run(["--source", make_source(tmp_path / "src"), "--output", output], capsys)
    assert code == 0 and "incomplete" in out
    assert output.read_text(encoding="utf-8") == EXPECTED


def test_failed_write_leaves_no_output_and_no_temp_file(tmp_path, capsys, monkeypatch):
    def disk_full(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(prepare.os, "replace", disk_full)
    code, _, err = run(["--source", make_source(tmp_path / "src"), "--output", tmp_path / "ci.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, "No space left on device")
    assert_no_leftovers(tmp_path, "ci.txt")


def test_failed_rebuild_keeps_the_old_output(tmp_path, capsys):
    source = make_source(tmp_path / "src")
    output = tmp_path / "ci.txt"
    assert run(["--source", source, "--output", output], capsys)[0] == 0
    break_json(source)
    assert run(["--source", source, "--output", output, "--force"], capsys)[0] == 1
    assert output.read_text(encoding="utf-8") == EXPECTED
    assert list(tmp_path.glob(".ci.txt.*")) == []


# ----------------------------------------------------------------------------
# Downloads, with a fake http_get standing in for the network


def npm_tarball(tmp_path):
    """A gzipped tarball shaped like `npm pack chinese-poetry`, holding the fixture poems."""
    package = make_source(tmp_path / "npm", "npm-unpacked")
    write_json(package / "package/dist/quantangshi/poet.tang.0.json", [poem("不该出现", "某人", "唐诗")])
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(package / "package", arcname="package")
    return buffer.getvalue()


def fake_network(monkeypatch, pages):
    """http_get serves pages (url -> bytes); any other URL fails as if unreachable. Returns the URLs asked for."""
    asked = []

    def http_get(url, timeout=None):
        asked.append(url)
        if url not in pages:
            raise prepare.NetworkError(f"{url}: Name or service not known")
        return pages[url]

    monkeypatch.setattr(prepare, "http_get", http_get)
    return asked


def fake_github(tmp_path, monkeypatch):
    """GitHub's raw files at the pinned commit serve the fixture poems; returns the URLs asked for."""
    monkeypatch.setattr(prepare, "SONG_CI_STARTS", sorted(SONG))
    repo = make_source(tmp_path / "repo")
    pages = {
        f"{prepare.GITHUB_RAW}/{prepare.urllib.parse.quote(path.relative_to(repo).as_posix())}": path.read_bytes()
        for path in repo.rglob("*.json")
    }
    return fake_network(monkeypatch, pages)


def test_github_used_when_reachable(tmp_path, capsys, monkeypatch):
    canonical(monkeypatch)
    asked = fake_github(tmp_path, monkeypatch)
    code, _, err = run(["--output", tmp_path / "ci.txt"], capsys)
    assert code == 0, err
    assert (tmp_path / "ci.txt").read_text(encoding="utf-8") == EXPECTED
    assert len(asked) == len(SONG) + 1
    assert all(
        url.startswith(f"https://raw.githubusercontent.com/chinese-poetry/chinese-poetry/{prepare.GITHUB_COMMIT}/")
        for url in asked
    )


# A stand-in for npm: `npm pack SPEC --json` copies $FAKE_NPM_TARBALL into the current folder
# and prints npm's --json report; $FAKE_NPM_MODE makes it fail in the ways the real one can.
# "hang" sleeps only 5 s: on Windows a timeout kills npm.cmd but waits for the Python it started.
FAKE_NPM = """\
import json, os, shutil, sys, time
from pathlib import Path

Path(os.environ["FAKE_NPM_LOG"]).write_text(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd()}))
mode = os.environ.get("FAKE_NPM_MODE", "ok")
if mode == "fail":
    print("npm error code E404", file=sys.stderr)
    print("npm error 404 Not Found - chinese-poetry@2.0.1", file=sys.stderr)
    sys.exit(1)
if mode == "hang":
    time.sleep(5)
if mode == "no-json":
    print("chinese-poetry-2.0.1.tgz")
    sys.exit(0)
if mode != "no-file":
    shutil.copy(os.environ["FAKE_NPM_TARBALL"], "chinese-poetry-2.0.1.tgz")
integrity = os.environ["FAKE_NPM_INTEGRITY"]
report = [{"id": "chinese-poetry@2.0.1", "filename": "chinese-poetry-2.0.1.tgz", "integrity": integrity}]
print(json.dumps(report, indent=2))
"""


def fake_npm(tmp_path, monkeypatch, tarball, mode="ok", reported=None):
    """Put a fake npm first on PATH, serving tarball; returns the file where it logs its argv and cwd.

    prepare.py finds npm as a user's machine has it: shutil.which("npm"), so npm.cmd on Windows and an
    executable npm elsewhere. Either one runs fake_npm.py with this Python.
    """
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "fake_npm.py"
    script.write_text(FAKE_NPM, encoding="utf-8")
    if os.name == "nt":
        (bin_dir / "npm.cmd").write_text(f'@"{sys.executable}" "{script}" %*\r\n', encoding="utf-8")
    else:
        npm = bin_dir / "npm"
        npm.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(script))} "$@"\n')
        npm.chmod(0o755)
    (tmp_path / "fake.tgz").write_bytes(tarball)
    log = tmp_path / "npm-log.json"
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("FAKE_NPM_LOG", str(log))
    monkeypatch.setenv("FAKE_NPM_MODE", mode)
    monkeypatch.setenv("FAKE_NPM_TARBALL", str(tmp_path / "fake.tgz"))
    monkeypatch.setenv("FAKE_NPM_INTEGRITY", reported or prepare.npm_integrity(tarball))
    return log


def test_npm_used_when_github_unreachable(tmp_path, capsys, monkeypatch):
    canonical(monkeypatch)
    tarball = npm_tarball(tmp_path)
    monkeypatch.setattr(prepare, "NPM_INTEGRITY", prepare.npm_integrity(tarball))
    asked = fake_network(monkeypatch, {})
    log = fake_npm(tmp_path, monkeypatch, tarball)
    code, out, err = run(["--output", tmp_path / "ci.txt"], capsys)
    assert code == 0, err
    assert (tmp_path / "ci.txt").read_text(encoding="utf-8") == EXPECTED
    assert len(asked) == 1 and asked[0].startswith(prepare.GITHUB_RAW)  # tried first, given up after one failure
    npm_call = json.loads(log.read_text())
    assert npm_call["argv"][:3] == ["pack", "chinese-poetry@2.0.1", "--json"]
    assert not Path(npm_call["cwd"]).exists()  # packed in a temporary folder, removed afterwards
    assert "GitHub failed" in out and "trying npm pack chinese-poetry@2.0.1 ..." in out and "integrity ok" in out


@pytest.mark.parametrize("source", ["GitHub", "npm"])
def test_download_that_is_not_the_canonical_corpus_refused(tmp_path, capsys, monkeypatch, source):
    # The fixture poems are not the real corpus, so with the real pin both downloads must be refused.
    output = tmp_path / "ci.txt"
    if source == "GitHub":
        fake_github(tmp_path, monkeypatch)
        origin = f"GitHub chinese-poetry@{prepare.GITHUB_COMMIT[:8]}"
    else:
        tarball = npm_tarball(tmp_path)
        monkeypatch.setattr(prepare, "NPM_INTEGRITY", prepare.npm_integrity(tarball))
        fake_network(monkeypatch, {})
        fake_npm(tmp_path, monkeypatch, tarball)
        origin = "npm chinese-poetry@2.0.1"
    code, _, err = run(["--output", output], capsys)
    assert code == 1
    got = hashlib.sha256(EXPECTED.encode("utf-8")).hexdigest()
    assert_one_error_line(
        err, f"built from {origin} has sha256 {got}", prepare.CANONICAL_CI_SHA256, "nothing was written"
    )
    assert_no_leftovers(tmp_path, "ci.txt")


def test_npm_unpacks_only_the_ci_files(tmp_path, monkeypatch):
    tarball = npm_tarball(tmp_path)  # also holds a quantangshi file, which must stay in the archive
    monkeypatch.setattr(prepare, "NPM_INTEGRITY", prepare.npm_integrity(tarball))
    fake_npm(tmp_path, monkeypatch, tarball)
    dest = tmp_path / "dest"
    dest.mkdir()
    assert prepare.fetch_npm(dest) == dest / "package"
    unpacked = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    expected = [f"package/dist/songci/ci.song.{start}.json" for start in SONG]
    assert unpacked == sorted([*expected, "package/dist/wudaishici/nantang/poetrys.json"])


@pytest.mark.parametrize("liar", ["file", "report"])
def test_npm_tarball_with_wrong_hash_refused(tmp_path, capsys, monkeypatch, liar):
    tarball = npm_tarball(tmp_path)  # not the pinned package, so its own hash cannot match the pinned one
    fake_network(monkeypatch, {})
    if liar == "file":  # npm reports the pinned integrity, but the file it wrote hashes differently
        fake_npm(tmp_path, monkeypatch, tarball, reported=prepare.NPM_INTEGRITY)
        words = ["tarball integrity", prepare.npm_integrity(tarball), prepare.NPM_INTEGRITY]
    else:  # the file matches the pin, but npm reports something else: refused all the same
        monkeypatch.setattr(prepare, "NPM_INTEGRITY", prepare.npm_integrity(tarball))
        fake_npm(tmp_path, monkeypatch, tarball, reported="sha512-AAAA")
        words = ["npm reported integrity sha512-AAAA", prepare.NPM_INTEGRITY]
    code, out, err = run(["--output", tmp_path / "ci.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, *words)
    assert "integrity ok" not in out
    assert_no_leftovers(tmp_path, "ci.txt")


@pytest.mark.parametrize("bad_name", ["../evil.json", "/tmp/evil.json", "package/dist/../../evil.json"])
def test_npm_tarball_escaping_its_folder_refused(tmp_path, capsys, monkeypatch, bad_name):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(make_source(tmp_path / "npm", "npm-unpacked") / "package", arcname="package")
        info = tarfile.TarInfo(bad_name)
        info.size = 2
        archive.addfile(info, io.BytesIO(b"[]"))
    tarball = buffer.getvalue()
    monkeypatch.setattr(prepare, "NPM_INTEGRITY", prepare.npm_integrity(tarball))
    fake_network(monkeypatch, {})
    fake_npm(tmp_path, monkeypatch, tarball)
    code, _, err = run(["--output", tmp_path / "ci.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, repr(bad_name), "outside the package")
    assert not (tmp_path / "evil.json").exists()
    assert_no_leftovers(tmp_path, "ci.txt")


def test_pinned_integrity_is_a_sha512(tmp_path):
    digest = prepare.base64.b64decode(prepare.NPM_INTEGRITY.removeprefix("sha512-"), validate=True)
    assert prepare.NPM_INTEGRITY.startswith("sha512-") and len(digest) == 64
    assert prepare.npm_integrity(b"") == "sha512-" + prepare.base64.b64encode(hashlib.sha512(b"").digest()).decode()
    big = os.urandom(3 << 20)  # more than one read block
    (tmp_path / "big").write_bytes(big)
    assert prepare.file_integrity(tmp_path / "big") == prepare.npm_integrity(big)


def test_no_npm_and_no_network_explains_what_was_tried(tmp_path, capsys, monkeypatch):
    fake_network(monkeypatch, {})  # and no npm on PATH (the autouse fixture empties it)
    code, out, err = run(["--output", tmp_path / "ci.txt"], capsys)
    assert code == 1
    assert_one_error_line(
        err, "GitHub (", "Name or service not known", "npm (npm not found: install Node.js, or pass --source DIR)"
    )
    assert err.rstrip().endswith("unpacked")  # and how to pass --source
    assert "Pass --source DIR" in err
    assert "trying npm pack chinese-poetry@2.0.1 ..." in out
    assert_no_leftovers(tmp_path, "ci.txt")


@pytest.mark.parametrize(
    "mode, words",
    [
        ("fail", ["exited with status 1", "404 Not Found"]),
        ("hang", ["timed out after 0.2 s"]),
        ("no-json", ["no --json report"]),
        ("no-file", ["wrote no such file"]),
    ],
)
def test_npm_failure_falls_through_to_the_final_message(tmp_path, capsys, monkeypatch, mode, words):
    if mode == "hang":  # only here: a slow machine must not turn the other failures into timeouts
        monkeypatch.setattr(prepare, "NPM_TIMEOUT", 0.2)
    fake_network(monkeypatch, {})
    log = fake_npm(tmp_path, monkeypatch, npm_tarball(tmp_path), mode=mode)
    code, out, err = run(["--output", tmp_path / "ci.txt"], capsys)
    if mode != "hang":  # killed after 0.2 s, perhaps before a loaded machine has started its Python
        assert log.exists()  # the fake npm was really run
    assert code == 1
    assert_one_error_line(err, "could not download chinese-poetry", "GitHub (", "npm (npm pack", "--source", *words)
    assert "npm failed" in out
    assert_no_leftovers(tmp_path, "ci.txt")


def test_real_http_get_reports_failure_as_network_error(monkeypatch):
    # The real fetcher, with urlopen failing the way it does without DNS: a NetworkError naming the URL.
    def unreachable(request, timeout):
        assert timeout == prepare.TIMEOUT
        raise prepare.urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(prepare.urllib.request, "urlopen", unreachable)
    with pytest.raises(prepare.NetworkError, match="example.invalid.*Name or service not known"):
        REAL_HTTP_GET("https://example.invalid/x")


# ----------------------------------------------------------------------------
# Tiny shakespeare


FAKE_PLAY = "First Citizen:\nBefore we proceed any further, hear me speak.\n"


def test_shakespeare_from_file(tmp_path, capsys, monkeypatch):
    source = tmp_path / "input.txt"
    source.write_text(FAKE_PLAY, encoding="utf-8")
    monkeypatch.setattr(prepare, "SHAKESPEARE_SHA256", hashlib.sha256(FAKE_PLAY.encode()).hexdigest())
    code, out, err = run(["shakespeare", "--source", source, "--output", tmp_path / "shakespeare.txt"], capsys)
    assert code == 0, err
    assert (tmp_path / "shakespeare.txt").read_text(encoding="utf-8") == FAKE_PLAY
    assert f"{len(FAKE_PLAY)} characters" in out


def test_shakespeare_wrong_hash_refused(tmp_path, capsys):
    source = tmp_path / "input.txt"
    source.write_text(FAKE_PLAY, encoding="utf-8")
    code, _, err = run(["shakespeare", "--source", source, "--output", tmp_path / "shakespeare.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, "sha256", prepare.SHAKESPEARE_SHA256)
    assert_no_leftovers(tmp_path, "shakespeare.txt")


def test_shakespeare_download_is_checked_too(tmp_path, capsys, monkeypatch):
    fake_network(monkeypatch, {prepare.SHAKESPEARE_URL: b"not shakespeare"})
    code, _, err = run(["shakespeare", "--output", tmp_path / "shakespeare.txt"], capsys)
    assert code == 1
    assert_one_error_line(err, "sha256")
    assert_no_leftovers(tmp_path, "shakespeare.txt")


@pytest.mark.skipif(not REAL_SHAKESPEARE.is_file(), reason="no local copy of tiny shakespeare")
def test_real_tiny_shakespeare(tmp_path, capsys):
    output = tmp_path / "shakespeare.txt"
    code, out, err = run(["shakespeare", "--source", REAL_SHAKESPEARE, "--output", output], capsys)
    assert code == 0, err
    assert len(output.read_text(encoding="utf-8")) == 1_115_394
    # Complete by its hash, so a second run keeps it.
    assert "keeping it" in run(["shakespeare", "--source", REAL_SHAKESPEARE, "--output", output], capsys)[1]
