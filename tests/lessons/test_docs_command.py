"""`workbook docs` serves the site and names the current exercise's lesson."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WAIT_S = 240  # the first build runs every notebook: minutes on a busy 2-core machine


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.timeout(WAIT_S + 60)
def test_docs_serves_the_site_and_opens_at_the_current_lesson(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "workbook", "docs", "--no-open", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        deadline = time.monotonic() + WAIT_S
        line = ""
        while "Serving the lessons at" not in line and time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line, "workbook docs stopped before it served the site"
        url = re.search(r"(http://\S+?)\s", line).group(1)
        assert url.startswith(f"http://127.0.0.1:{port}/")
        assert "#" in url, "the link points at the exercise's section"
        with urllib.request.urlopen(url.split("#")[0], timeout=10) as response:
            page = response.read().decode()
        assert response.status == 200
        assert 'class="md-content"' in page
    finally:
        server.terminate()  # a polite stop, as a closed terminal or a process manager sends
        server.wait(timeout=30)
        server.stdout.close()
    assert not serving(port), "the site's server outlived `workbook docs`"


def serving(port: int) -> bool:
    """Whether anything still accepts connections on ``port``, allowing a moment to close."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) != 0:
                return False
        time.sleep(0.2)
    return True
