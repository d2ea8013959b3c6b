"""Headless Chromium (Debian's chromium + chromium-driver) and a threaded local server, for browser
tests and the README screenshots. Nothing here touches the network beyond 127.0.0.1."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server

CHROMIUM_PATHS = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER_PATHS = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def find_chromium() -> tuple[str, str] | None:
    browser = next((p for p in CHROMIUM_PATHS if Path(p).exists()), None) or shutil.which("chromium")
    driver = next((p for p in DRIVER_PATHS if Path(p).exists()), None) or shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def serve(app) -> Iterator[str]:  # noqa: ANN001
    """The app on 127.0.0.1 with an ephemeral port, in a thread; yields the base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


@contextmanager
def chromium(download_dir: Path | None = None, width: int = 1400, height: int = 1000):  # noqa: ANN201
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    found = find_chromium()
    if found is None:
        raise RuntimeError("chromium and chromium-driver are not installed")
    browser, driver_path = found
    profile = tempfile.mkdtemp(prefix="hotline-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", f"--window-size={width},{height}",
                 "--lang=en-US"):
        options.add_argument(flag)
    if download_dir is not None:
        options.add_experimental_option("prefs", {
            "download.default_directory": str(download_dir), "download.prompt_for_download": False,
            "plugins.always_open_pdf_externally": True,
        })
    # An explicit driver path keeps Selenium Manager (which would go online) out of the picture.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
