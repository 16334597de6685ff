"""The embedded Ray's token stays private: a real Ray, started as ``abm`` starts it.

Ray 2.60 would write ``~/.ray/auth_token`` with mode 0644 (readable by every local user; with
it another process joined a running sweep and ran code). The embedded Ray gets a token of
this process's own in a file of mode 0600, in a folder of mode 0700, removed at exit; the
user's home is not touched and Ray's notice about the token is not printed.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from abm.execution import keep_private

STARTS_RAY = """
import json, os, stat, sys
from abm.execution import Executor, embedded_token_file
with Executor(2) as executor:
    results = [result for _, result, _ in executor.map(abs, [-1, -2, -3])]
    token = embedded_token_file()
    print(json.dumps({"results": sorted(results), "token": str(token),
                      "mode": stat.S_IMODE(token.stat().st_mode), "folder_mode": stat.S_IMODE(token.parent.stat().st_mode),
                      "length": len(token.read_text())}))
"""


@pytest.mark.slow
def test_the_embedded_ray_token_is_readable_by_its_user_only(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    environment = {**os.environ, "HOME": str(home)}
    environment.pop("RAY_AUTH_TOKEN", None)
    environment.pop("RAY_AUTH_TOKEN_PATH", None)
    done = subprocess.run([sys.executable, "-c", STARTS_RAY], env=environment, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["results"] == [1, 2, 3]  # Ray's workers, started with the token, ran the tasks
    assert seen["mode"] == 0o600 and seen["folder_mode"] == 0o700 and seen["length"] == 64
    assert not (home / ".ray").exists()  # Ray's world-readable default was not written
    assert not Path(seen["token"]).exists()  # removed when the process ended
    assert "Token authentication" not in done.stderr  # nothing the user cannot act on


def test_a_credential_file_readable_by_others_is_made_private(tmp_path, capsys):
    token = tmp_path / "auth_token"
    token.write_text("secret")
    token.chmod(0o644)
    keep_private(token)
    assert stat.S_IMODE(token.stat().st_mode) == 0o600 and token.read_text() == "secret"
    assert "made it private" in capsys.readouterr().err
    keep_private(token)  # already private: nothing said
    assert capsys.readouterr().err == ""
    keep_private(tmp_path / "missing")  # no token file: nothing to do
