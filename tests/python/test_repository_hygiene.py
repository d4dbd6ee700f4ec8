"""The repository is self-contained and its docs hold together (issue 30).

(a) No tracked file names a path outside the repository: the `shared` folder beside it, a markdown link or a
    relative path that climbs out of the repository root with `..`, or an absolute path under the directory that
    holds the repository (for a checkout at `<dir>/main`: anything under `<dir>/`). A clone must contain everything
    it documents.
(b) Every relative link in README.md and docs/*.md resolves to a file or folder of the repository (anchors are
    ignored).
(c) README.md stays short: at most 160 lines.

Standard library only. The detector is tested on sample strings first, so it is shown to catch each form; the
samples are assembled at run time, so this file does not match itself.
"""
from __future__ import annotations

import posixpath
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
README_MAX_LINES = 160

UP = ".."  # samples below are built from this, so no literal outside path appears in this file
SHARED = "shared"
SHARED_KIND = f"names {UP}/{SHARED}"

# Top-level system directories that are never reported as "the directory that holds the repository": a checkout
# under /tmp/x may still name /tmp/target as a scratch directory.
SYSTEM_DIRS = frozenset({"/tmp", "/var", "/usr", "/opt", "/home", "/mnt", "/srv", "/root", "/private", "/Users"})

# A path that starts with one or more `..` segments, outside a longer word or path (not a URL, a/x/y, .../x).
_RELATIVE_UP = re.compile(r"(?<![\w.~/\\-])((?:\.\./)+[^\s'\"`()<>\[\]{},;|*?]*)")
# The shared folder beside the repository, anywhere, as a relative path.
_SHARED = re.compile(r"(?<![\w.-])\.\./" + SHARED + r"(?![\w-])")
# Markdown links and images: [text](target "title"), and reference definitions: [id]: target
_MD_INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^\"']*[\"'])?\s*\)")
_MD_REFERENCE = re.compile(r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*<?(\S+?)>?(?:[ \t]+.*)?$", re.M)
_FENCE = re.compile(r"^\s*(```|~~~).*?^\s*\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    kind: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.text}"


def outside_roots(repo_root: PurePosixPath) -> list[str]:
    """The directories above the repository whose absolute paths a tracked file must not name, deepest first."""
    return [str(p) for p in repo_root.parents if str(p) != "/" and str(p) not in SYSTEM_DIRS]


def _escapes(start: PurePosixPath, target: str) -> bool:
    """Whether `target`, relative to `start` (a folder inside the repository, "" = the root), leaves the root."""
    joined = posixpath.normpath(posixpath.join(str(start) if str(start) not in ("", ".") else ".", target))
    return joined == UP or joined.startswith(UP + "/")


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _markdown_link_targets(text: str) -> list[tuple[int, str]]:
    """(offset, target) of every link and image in a markdown text, outside code blocks and code spans."""
    blanked = _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    blanked = _CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), blanked)
    found = [(m.start(1), m.group(1)) for m in _MD_INLINE.finditer(blanked)]
    found += [(m.start(1), m.group(1)) for m in _MD_REFERENCE.finditer(blanked)]
    return sorted(found)


def markdown_links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every link and image in a markdown text, outside code blocks and code spans."""
    return [(_line_of(text, offset), target) for offset, target in _markdown_link_targets(text)]


def find_outside_references(text: str, rel_path: str, repo_root: PurePosixPath) -> list[Finding]:
    """Every place in `text` (the file `rel_path` of the repository at `repo_root`) that names a path outside it.

    - a markdown link whose target leaves the repository (resolved from the page's folder);
    - the shared folder beside the repository (`..` then `shared`) anywhere;
    - any other relative path that climbs out of the repository with `..`: resolved from the file's folder in markdown, and from the
      file's folder or the repository root elsewhere (code and config run from the root, or read beside
      themselves), so a code span or a string is caught as well as a link;
    - an absolute path under a directory above the repository (see `outside_roots`), reported once, under the
      deepest such directory.
    """
    found: list[tuple[int, str, str]] = []
    claimed: list[tuple[int, int]] = []

    def free(offset: int) -> bool:
        return not any(lo <= offset < hi for lo, hi in claimed)

    def add(offset: int, kind: str, target: str) -> None:
        found.append((offset, kind, target))
        claimed.append((offset, offset + max(len(target), 1)))

    folder = PurePosixPath(rel_path).parent
    is_markdown = rel_path.lower().endswith((".md", ".markdown"))

    if is_markdown:
        for offset, target in _markdown_link_targets(text):
            bare = target.split("#", 1)[0].split("?", 1)[0]
            if bare and not _SCHEME.match(bare) and not bare.startswith("/") and _escapes(folder, bare):
                add(offset, "markdown link leaves the repository", target)

    for m in _SHARED.finditer(text):
        if free(m.start()):
            whole = re.match(r"[^\s'\"`()<>\[\]{},;|*?]*", text[m.start():]).group(0)
            add(m.start(), SHARED_KIND, whole)

    for m in _RELATIVE_UP.finditer(text):
        target = m.group(1)
        starts = [folder] if is_markdown else [folder, PurePosixPath("")]
        if free(m.start(1)) and any(_escapes(s, target) for s in starts):
            add(m.start(1), "relative path leaves the repository", target)

    for root in outside_roots(repo_root):  # deepest first
        pattern = re.compile(r"(?<![\w.~/-])" + re.escape(root) + r"(?=/|\\|$|[\s'\"`)\]>,;:])", re.M)
        for m in pattern.finditer(text):
            if free(m.start()):
                path = re.match(r"[^\s'\"`)\]>,;]*", text[m.start():]).group(0)
                add(m.start(), f"absolute path under {root}/", path)

    return [Finding(rel_path, _line_of(text, offset), kind, target) for offset, kind, target in sorted(found)]


def tracked_text_files(repo_root: Path) -> list[tuple[str, str]]:
    """(path, text) of every tracked file that is text (binary files, with a NUL byte or not UTF-8, are skipped)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=repo_root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:  # not a git checkout (an sdist, a copy)
        pytest.skip(f"git ls-files is not available here: {exc}")
    files = []
    for name in out.decode("utf-8").split("\0"):
        path = repo_root / name
        if not name or not path.is_file():
            continue
        data = path.read_bytes()
        if b"\0" in data[:8192]:
            continue
        try:
            files.append((name, data.decode("utf-8")))
        except UnicodeDecodeError:
            continue
    return files


# --------------------------------------------------------------------------------------------------
# The detector on sample strings
# --------------------------------------------------------------------------------------------------
FAKE_ROOT = PurePosixPath("/data") / "checkouts" / "lead-scoring"
FAKE_PARENT = str(FAKE_ROOT.parent)          # /data/checkouts
FAKE_GRANDPARENT = str(FAKE_ROOT.parent.parent)  # /data


def _kinds(text: str, rel_path: str = "README.md") -> list[str]:
    return [f.kind for f in find_outside_references(text, rel_path, FAKE_ROOT)]


def test_outside_roots_are_the_directories_above_the_repository():
    assert outside_roots(FAKE_ROOT) == [FAKE_PARENT, FAKE_GRANDPARENT]
    assert outside_roots(PurePosixPath("/tmp/build/repo")) == ["/tmp/build"]
    assert outside_roots(PurePosixPath("/repo")) == []


@pytest.mark.parametrize("text, rel_path, kind", [
    (f"The raw tables follow `{UP}/{SHARED}/RAW_CONTRACT.md`.", "README.md", SHARED_KIND),
    (f'description = "Contract: {UP}/{SHARED}/RAW_CONTRACT.md."', "orchestration/defs/raw/assets.py",
     SHARED_KIND),
    (f"See [the contract]({UP}/{UP}/contract.md).", "docs/raw_contract.md", "markdown link leaves the repository"),
    (f"See [the contract]({UP}/contract.md#leads).", "README.md", "markdown link leaves the repository"),
    (f"[contract]: {UP}/{UP}/contract.md", "docs/index.md", "markdown link leaves the repository"),
    (f'copy("{UP}/sibling/seeds.csv")', "Makefile", "relative path leaves the repository"),
    (f"path: {UP}/{UP}/{UP}/etc/profiles.yml", "models/staging/crm/_crm__sources.yml",
     "relative path leaves the repository"),
    (f"# The raw contract ({FAKE_PARENT}/shared/RAW_CONTRACT.md)", "tests/python/oracle.py",
     f"absolute path under {FAKE_PARENT}/"),
    (f"cd {FAKE_GRANDPARENT}/main && make", "docs/operations.md", f"absolute path under {FAKE_GRANDPARENT}/"),
    (f"`{FAKE_ROOT}/models/marts`", "docs/marts.md", f"absolute path under {FAKE_PARENT}/"),
])
def test_the_detector_catches_each_form(text, rel_path, kind):
    assert kind in _kinds(text, rel_path)


@pytest.mark.parametrize("text, rel_path", [
    ("See [the marts](docs/marts.md) and [the spec](docs/scoring_rules.md#engagement).", "README.md"),
    (f"Back to the [README]({UP}/README.md), or [marts](marts.md).", "docs/rules.md"),
    (f"the folder above: [{UP}]({UP}/)", "docs/rules.md"),
    ("Parquet: read_parquet('/data-lake/leads/*.parquet'); chromium at /usr/bin/chromium", "README.md"),
    (f"https://example.com/x/{UP}/y and a range 'A1'{UP}'D4' and an ellipsis .../z", "orchestration/report.py"),
    ("/database/x and /datastore", "README.md"),
    (f"a code span in markdown: `{UP}/` is text, and [a link to the root]({UP}/x) `[x]({UP}/y)`", "docs/x.md"),
])
def test_the_detector_leaves_paths_inside_the_repository_alone(text, rel_path):
    assert _kinds(text, rel_path) == []


def test_findings_name_file_line_and_text():
    text = f"line one\nsee {FAKE_PARENT}/shared/RAW_CONTRACT.md\nand {UP}/{SHARED}/x\n"
    found = [str(f) for f in find_outside_references(text, "a.py", FAKE_ROOT)]
    assert found == [f"a.py:2: absolute path under {FAKE_PARENT}/: {FAKE_PARENT}/shared/RAW_CONTRACT.md",
                     f"a.py:3: {SHARED_KIND}: {UP}/{SHARED}/x"]


def test_markdown_links_skip_code_blocks_and_spans():
    text = "[a](a.md)\n```\n[b](b.md)\n```\n`[c](c.md)` [d](d.md \"title\")\n\n[e]: e.md\n![img](img/x.png)\n"
    assert markdown_links(text) == [(1, "a.md"), (5, "d.md"), (7, "e.md"), (8, "img/x.png")]


# --------------------------------------------------------------------------------------------------
# The repository
# --------------------------------------------------------------------------------------------------
def test_no_tracked_file_names_a_path_outside_the_repository():
    files = tracked_text_files(REPO_ROOT)
    assert len(files) > 50
    root = PurePosixPath(REPO_ROOT.as_posix())
    findings = [str(f) for name, text in files for f in find_outside_references(text, name, root)]
    assert findings == [], ("files that name paths outside the repository (the raw contract is "
                            "docs/raw_contract.md):\n" + "\n".join(findings))


def _doc_files() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def test_every_relative_link_in_the_readme_and_docs_resolves():
    broken, checked = [], 0
    for doc in _doc_files():
        text = doc.read_text(encoding="utf-8")
        for line, target in markdown_links(text):
            bare = target.split("#", 1)[0].split("?", 1)[0]
            if not bare or _SCHEME.match(bare):
                continue  # an anchor in the same page, or a URL
            resolved = (REPO_ROOT / bare.lstrip("/")) if bare.startswith("/") else (doc.parent / bare)
            checked += 1
            inside = resolved.resolve().is_relative_to(REPO_ROOT)
            if not inside or not resolved.exists():
                broken.append(f"{doc.relative_to(REPO_ROOT)}:{line}: {target}")
    assert checked > 20  # README's index of docs/ alone links every page
    assert broken == [], "links that do not resolve to a file of the repository:\n" + "\n".join(broken)


def test_every_docs_page_is_in_the_readme_index():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    linked = {posixpath.normpath(t.split("#", 1)[0]) for _, t in markdown_links(readme)}
    missing = [p.relative_to(REPO_ROOT).as_posix() for p in sorted((REPO_ROOT / "docs").glob("*.md"))
               if p.relative_to(REPO_ROOT).as_posix() not in linked]
    assert missing == [], f"docs pages the README does not link: {missing}"


def test_the_readme_is_at_most_160_lines():
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move detail to docs/"
