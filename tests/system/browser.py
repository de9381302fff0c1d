"""Headless Chromium (Debian chromium + chromium-driver) driven by Selenium.

    with Browser(lab, "app", outdir) as b:     # browser and driver inside the lab's app namespace
        b.get("http://127.0.0.1:8080/")
        b.shot("overview")                      # PNG saved under outdir for inspection

Everything runs in the calling thread, which is moved into the namespace for
the whole block (child processes inherit it), so the browser reaches a daemon
that listens inside the appliance namespace.
"""
import os
import shutil
import tempfile

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def available():
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "python3-selenium is not installed (make deps)"
    for p in (CHROMIUM, CHROMEDRIVER):
        if not os.access(p, os.X_OK):
            return f"{p} is missing (make deps)"
    return None


class Browser:
    def __init__(self, lab, host, outdir):
        self.lab, self.host, self.outdir = lab, host, outdir
        os.makedirs(outdir, exist_ok=True)
        self.profile = tempfile.mkdtemp(prefix="lw-chromium-")
        self._ns = None
        self.driver = None

    def __enter__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        self._ns = self.lab.netns(self.host)
        self._ns.__enter__()
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--window-size=1280,1000",
                  f"--user-data-dir={self.profile}"):
            opts.add_argument(a)
        try:
            self.driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        except Exception:
            self._ns.__exit__(None, None, None)
            raise
        self.driver.set_page_load_timeout(30)
        return self

    def __exit__(self, *exc):
        try:
            if self.driver:
                self.driver.quit()
        finally:
            self._ns.__exit__(*exc)
            shutil.rmtree(self.profile, ignore_errors=True)
        return False

    def get(self, url):
        self.driver.get(url)

    def shot(self, name):
        path = os.path.join(self.outdir, f"{name}.png")
        self.driver.save_screenshot(path)
        return path

    def text(self):
        return self.driver.find_element("tag name", "body").text

    def alerts_fired(self):
        """True if a JavaScript alert() ran (an XSS would)."""
        from selenium.common.exceptions import NoAlertPresentException
        try:
            self.driver.switch_to.alert.dismiss()
            return True
        except NoAlertPresentException:
            return False
