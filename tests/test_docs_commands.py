"""Every shell command shown in README.md and docs/*.md runs as written.

Convention (for everyone writing docs):

* Commands live in fenced code blocks (```` ``` ````, ```` ```sh ````, ```` ```bash ````,
  ```` ```console ````). A block fenced ```` ```text ```` (or any other language: yaml,
  json, python...) holds a synopsis, output or a file, and is never run.
* In a runnable block, a command is a line starting with ``.venv/bin/neurodeploy``,
  ``.venv/bin/python``, ``neurodeploy`` (the installed console script) or ``python`` (the
  venv's, activated); a line ending in
  ``\\`` continues on the next. Other lines (output, ``make ...``) are not commands.
* A trailing ``# comment`` is fine. Markers in that comment change how a command is tested:
  ``# docs-test: skip`` never runs it (it needs a cluster, a network or minutes: say why
  beside it); ``# docs-test: exit N`` expects exit code N instead of 0 (e.g. ``validate``'s
  4 when the yield is below target).
* The commands of one file run in order, in a fresh folder holding a copy of ``examples/``
  and an empty ``build/`` (so a later command may use what an earlier one wrote, as a
  reader following the page would), each with a timeout of ``TIMEOUT`` seconds.
  ``.venv/bin/neurodeploy`` and ``neurodeploy`` run this interpreter's ``neurodeploy.cli``,
  ``.venv/bin/python`` and ``python`` this interpreter; a single ``> FILE`` redirect is
  honoured.
* Keep documented commands cheap: they are the CI's cost (seconds each, not minutes).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUNNABLE_FENCES = ("", "sh", "bash", "console", "shell")
PREFIXES = (".venv/bin/neurodeploy", ".venv/bin/python", "neurodeploy", "python")
MARKER = re.compile(r"#.*?docs-test:\s*(skip|exit\s+(\d+))")
TIMEOUT = 600


@dataclass
class Command:
    """One documented command."""

    doc: str
    line: int
    text: str
    skip: bool = False
    exit: int = 0

    def __str__(self) -> str:
        return f"{self.doc}:{self.line}: {self.text}"


def commands_of(path: Path) -> list[Command]:
    """The commands of one Markdown file, in order (see the module docstring)."""
    out: list[Command] = []
    fence: str | None = None
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if stripped.startswith("```"):
            fence = None if fence is not None else stripped[3:].strip().lower()
            i += 1
            continue
        if fence is None or fence not in RUNNABLE_FENCES or not _is_command(stripped):
            i += 1
            continue
        start, text = i + 1, stripped
        while text.endswith("\\") and i + 1 < len(lines):
            i += 1
            text = text[:-1].rstrip() + " " + lines[i].strip()
        cmd = Command(path.name, start, text)
        m = MARKER.search(text)
        if m:
            cmd.skip = m.group(1) == "skip"
            cmd.exit = int(m.group(2)) if m.group(2) else 0
        out.append(cmd)
        i += 1
    return out


def _is_command(line: str) -> bool:
    return any(line == p or line.startswith(p + " ") for p in PREFIXES)


def argv_of(cmd: Command) -> tuple[list[str], str | None]:
    """(argv with this interpreter, stdout redirect target) of a command."""
    words = shlex.split(cmd.text, comments=True)
    redirect = None
    if ">" in words:
        at = words.index(">")
        assert at == len(words) - 2, f"{cmd}: only one trailing '> FILE' is supported"
        redirect, words = words[-1], words[:at]
    head = words[0]
    if head in (".venv/bin/neurodeploy", "neurodeploy"):
        return [sys.executable, "-m", "neurodeploy.cli", *words[1:]], redirect
    return [sys.executable, *words[1:]], redirect


def _workdir(tmp: Path) -> Path:
    work = tmp / "reader"
    work.mkdir()
    shutil.copytree(ROOT / "examples", work / "examples")
    shutil.copytree(ROOT / "tests" / "fixtures", work / "tests" / "fixtures")   # NIR exports
    (work / "build").mkdir()
    return work


def run(cmd: Command, work: Path) -> subprocess.CompletedProcess:
    argv, redirect = argv_of(cmd)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    if redirect:
        (work / redirect).write_text(proc.stdout)
    return proc


def test_the_convention_finds_commands():
    """Parsing: continuations, comments, markers and non-runnable fences."""
    sample = ROOT / "build" / "docs_sample.md"
    sample.parent.mkdir(exist_ok=True)
    sample.write_text("```\n.venv/bin/neurodeploy validate build/ff --chips 2 \\\n"
                      "    --yield 0.9   # docs-test: exit 4\nout: 1\n```\n"
                      "```text\nneurodeploy import-nir model.nir [--dt 1.0]\n```\n"
                      "```sh\nneurodeploy profiles  # lists them; docs-test: skip (why)\nmake demo\n```\n")
    try:
        found = commands_of(sample)
    finally:
        sample.unlink()
    assert [(c.line, c.exit, c.skip) for c in found] == [(2, 4, False), (10, 0, True)]
    assert found[0].text.startswith(".venv/bin/neurodeploy validate build/ff --chips 2 --yield")
    argv, redirect = argv_of(Command("x", 1, "neurodeploy schema > ir.json  # comment"))
    assert argv[1:] == ["-m", "neurodeploy.cli", "schema"] and redirect == "ir.json"


@pytest.mark.parametrize("doc", [d for d in DOCS if commands_of(d)],
                         ids=lambda d: d.name)
def test_documented_commands_run_as_written(doc: Path, tmp_path: Path):
    work = _workdir(tmp_path)
    for cmd in commands_of(doc):
        if cmd.skip:
            continue
        proc = run(cmd, work)
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        assert proc.returncode == cmd.exit, f"{cmd}\nexit {proc.returncode}: " + "\n".join(tail)
