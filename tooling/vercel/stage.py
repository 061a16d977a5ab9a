"""What a deployment uploads, staged in a folder of its own for `vercel build`.

Vercel builds from the uploaded files: the CLI's own ignore list plus `.vercelignore`, read with
gitignore rules. `vercel build` in a checkout sees every file instead (tests, local state), so
the build here runs on a copy of the upload, which is what the platform's remote build gets.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pathspec

# The CLI's default upload ignores (vercel 58.10, `vercel deploy` without --prebuilt).
CLI_IGNORES = (
    ".hg",
    ".git",
    ".gitmodules",
    ".svn",
    ".cache",
    ".next",
    ".now",
    ".vercel",
    ".npmignore",
    ".dockerignore",
    ".gitignore",
    ".*.swp",
    ".DS_Store",
    ".wafpicke-*",
    ".lock-wscript",
    ".env.local",
    ".env.*.local",
    ".venv",
    ".yarn/cache",
    ".pnp*",
    "npm-debug.log",
    "config.gypi",
    "node_modules",
    "__pycache__",
    "venv",
    "CVS",
)
# A project nobody owns: `vercel build` needs a linked project, not an account. Framework left
# at "Other" (null), as a new project starts: vercel.json must choose the preset itself.
LOCAL_PROJECT = {"projectId": "prj_tally_local", "orgId": "team_tally_local", "settings": {}}


def user_ignores(root: Path) -> pathspec.GitIgnoreSpec:
    """`.vercelignore` alone: what `vercel deploy --prebuilt` drops from a function's files."""
    path = root / ".vercelignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return pathspec.GitIgnoreSpec.from_lines(lines)


def upload_ignores(root: Path) -> pathspec.GitIgnoreSpec:
    path = root / ".vercelignore"
    lines = path.read_text().splitlines() if path.exists() else []
    return pathspec.GitIgnoreSpec.from_lines([*CLI_IGNORES, *lines])


def upload_files(root: Path) -> list[str]:
    """Every file `vercel deploy` would upload from `root`, as sorted POSIX paths."""
    spec = upload_ignores(root)
    files = []
    for directory, dirnames, filenames in os.walk(root):
        rel_dir = Path(directory).relative_to(root).as_posix()
        prefix = "" if rel_dir == "." else f"{rel_dir}/"
        # An ignored folder is not entered (gitignore rules: nothing inside comes back).
        dirnames[:] = [d for d in dirnames if not spec.match_file(f"{prefix}{d}/")]
        files += [prefix + name for name in filenames if not spec.match_file(prefix + name)]
    return sorted(files)


def stage(root: Path, dest: Path) -> list[str]:
    """Make `dest` hold exactly the upload of `root`, plus the local project link.

    `dest/.vercel` survives between builds: it holds the builder's uv cache, so a rebuild does
    not download every wheel again.
    """
    files = upload_files(root)
    # The staging folder may sit inside the checkout (.tally/): never copy it into itself, even
    # when no ignore rule keeps it out of the upload.
    if dest.resolve().is_relative_to(root.resolve()):
        inside = dest.resolve().relative_to(root.resolve()).as_posix() + "/"
        files = [rel for rel in files if not rel.startswith(inside)]
    dest.mkdir(parents=True, exist_ok=True)
    for entry in dest.iterdir():
        if entry.name == ".vercel":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for rel in files:
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / rel, target)
    link = dest / ".vercel"
    link.mkdir(exist_ok=True)
    (link / "project.json").write_text(json.dumps(LOCAL_PROJECT) + "\n")
    shutil.rmtree(link / "output", ignore_errors=True)
    return files
