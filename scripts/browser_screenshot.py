"""Prove Neo4j Browser works against the local server: log in, run a query, save a PNG.

    .venv/bin/pip install playwright          # the Python package only; no browser download
    apt-get install chromium                  # Debian's Chromium, driven headless
    .venv/bin/python scripts/browser_screenshot.py OUT.png \
        [--style F.grass] [--query-file F] [--param K=V]

The password is read from the local server's state file (or NEO4J_PASSWORD) and typed into
the login form; it is never printed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from graphrec.server.process import LocalServer  # noqa: E402
from graphrec.server.state import read_state  # noqa: E402

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--query-file", type=Path, help="Cypher to run after connecting")
    parser.add_argument("--param", action="append", default=[], help="NAME=VALUE (:param)")
    parser.add_argument("--style", type=Path, help="a Browser style (.grass) to load first")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server = LocalServer.from_env()
    password = os.environ.get("NEO4J_PASSWORD") or read_state(server.home).get("password")
    commands = [f":param {p.replace('=', ' => ', 1)}" for p in args.param]
    if args.style:  # `:style` takes the whole style on one line
        commands.insert(0, ":style " + " ".join(args.style.read_text().split()))
    if args.query_file:
        commands.append(
            "\n".join(
                line
                for line in args.query_file.read_text().splitlines()
                if not line.lstrip().startswith("//")
            ).strip()
        )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=args.chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{server.http_url}/browser/")
        page.wait_for_selector('input[data-testid="password"]', timeout=60_000)
        page.select_option('select[data-testid="bolt-scheme-select"]', "bolt://")
        page.fill('input[data-testid="boltaddress"]', f"127.0.0.1:{server.bolt_port}")
        page.fill('input[data-testid="username"]', "neo4j")
        page.fill('input[data-testid="password"]', password or "")
        page.click('button[data-testid="connect"]')
        page.wait_for_selector("text=You are connected as user", timeout=60_000)
        for command in commands:
            editor = page.locator('[data-testid="activeEditor"] textarea').first
            editor.focus()
            page.keyboard.insert_text(command)
            page.keyboard.press("Control+Enter")
            page.wait_for_timeout(2500)
        page.wait_for_timeout(2000)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out))
        browser.close()
    print(args.out)


if __name__ == "__main__":
    main()
