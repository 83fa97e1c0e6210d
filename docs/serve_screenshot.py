"""Screenshot of `spoofscan serve`'s page after scoring a clip (docs/serve.png in the README).

Usage: python docs/serve_screenshot.py CLIP [--checkpoint CKPT] [--out docs/serve.png]
Needs Chromium and chromedriver (apt-get install chromium chromium-driver)."""
import argparse
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("clip", type=Path)
parser.add_argument("--checkpoint", default=None)
parser.add_argument("--out", type=Path, default=Path(__file__).parent / "serve.png")
parser.add_argument("--port", type=int, default=8931)
args = parser.parse_args()

command = [sys.executable, "-m", "spoofscan", "serve", "--port", str(args.port)]
server = subprocess.Popen(command + (["--checkpoint", args.checkpoint] if args.checkpoint else []))
url = f"http://127.0.0.1:{args.port}"
try:
    for _ in range(300):
        try:
            httpx2.get(url + "/healthz")
            break
        except httpx2.TransportError:
            time.sleep(0.1)
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--window-size=1040,1180"):
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    browser.get(url + "/")
    browser.find_element(By.ID, "file-input").send_keys(str(args.clip.resolve()))
    WebDriverWait(browser, 120).until(lambda d: d.find_element(By.ID, "timeline").get_attribute("data-drawn"))
    browser.save_screenshot(str(args.out))
    browser.quit()
    print(f"{args.out}: page after scoring {args.clip.name}")
finally:
    server.terminate()
    server.wait()
