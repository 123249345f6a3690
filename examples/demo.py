"""The README's first command: migrate the bundled example app and run it in-process.

1. copy examples/docapp (and its tests) to a scratch folder;
2. ``bgmigrate scan`` it: every BackgroundTasks call site with its verdict;
3. ``bgmigrate rewrite --diff`` it, then ``bgmigrate rewrite`` for real;
4. run the migrated app's own tests on the in-process backend (no services needed);
5. drive the migrated app once and show what its tasks did.

Usage: ``python examples/demo.py [--keep DIR]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent


def step(title: str) -> None:
    """Print a step heading."""
    print(f"\n=== {title}", flush=True)


def run(*command: str, cwd: Path, ok_codes: tuple[int, ...] = (0,)) -> None:
    """Run a command, echoing it; stop the demo if it exits with an unexpected code."""
    print("$ " + " ".join(command), flush=True)
    env = {**os.environ, "BGMIGRATE_BACKEND": "inprocess"}
    code = subprocess.run(command, cwd=cwd, env=env, check=False).returncode
    if code not in ok_codes:
        raise SystemExit(f"demo failed: {command[0]} exited with {code}")


def copy_example(target: Path) -> None:
    """Copy the example app, its tests and its pytest.ini into ``target``."""
    skip = shutil.ignore_patterns("__pycache__", "*.sqlite3")
    for name in ("docapp", "tests"):
        shutil.copytree(EXAMPLES / name, target / name, ignore=skip)
    shutil.copy(EXAMPLES / "pytest.ini", target / "pytest.ini")


def drive(workdir: Path) -> None:
    """Upload a document and chat once against the migrated app, then show the results."""
    script = (
        "from fastapi.testclient import TestClient\n"
        "from docapp.main import app\n"
        "with TestClient(app) as client:\n"
        "    doc = client.post('/documents', files={'file': ('a.txt', b'hello migrated world')})\n"
        "    print('POST /documents ->', doc.status_code, doc.json())\n"
        "    print('GET  /documents/1 ->', client.get('/documents/1').json())\n"
        "    chat = client.post('/chat', json={'session_id': 'demo', 'text': 'is it moved?'})\n"
        "    print('POST /chat ->', chat.status_code, chat.json())\n"
        "    print('GET  /chat/demo ->', client.get('/chat/demo').json())\n"
    )
    env = {**os.environ, "BGMIGRATE_BACKEND": "inprocess", "DOCAPP_DB": str(workdir / "demo.db")}
    subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, check=True)


def main() -> int:
    """Run the demo; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it afterwards")
    args = parser.parse_args()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="bgmigrate-demo-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        copy_example(workdir)
        step("1. scan the example app (exit 1 means: call sites to act on)")
        run(str(BIN / "bgmigrate"), "scan", "docapp", cwd=workdir, ok_codes=(0, 1))
        step("2. preview the rewrite")
        run(str(BIN / "bgmigrate"), "rewrite", "--diff", "docapp", cwd=workdir)
        step("3. rewrite")
        run(str(BIN / "bgmigrate"), "rewrite", "docapp", cwd=workdir)
        step("4. the migrated app's own tests, on the in-process backend")
        run(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=workdir)
        step("5. the migrated app, driven once")
        drive(workdir)
        print(f"\nThe migrated app is in {workdir}" if args.keep else "\nDone.")
    finally:
        if args.keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
