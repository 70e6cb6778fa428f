"""A person with a browser: headless Chromium opens CommandWebService.asmx's operation list, follows cancelJob,
fills the local-only test form with their login token, the space and a running job of theirs and presses
Invoke; the answer is `<boolean>true</boolean>` and the job is then Cancelling or Cancelled.

Birst's WSDL has no HTTP bindings; the form posts through ASMX's HttpPostLocalhost, which only a caller the
test form is shown to may use (test_birst_gateway.py checks a remote caller is refused).
Debian's chromium and chromium-driver (installed by .ci/run), as in test_casjobs_browser.py.
"""

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from support.birst import PATH, BirstUser, add_birst_users, detailed_status, login, new_space, running_job
from support.casjobs import cancel_events, jobgate_json, show
from support.server import JobgateServer
from support.wait import wait_until

CHROMIUM: Final = "/usr/bin/chromium"
CHROMEDRIVER: Final = "/usr/bin/chromedriver"
ARTIFACTS: Final = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS: Final = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync")  # fmt: skip
PAGE_TIMEOUT_S: Final = 15.0


@pytest.fixture(scope="module")
def server(module_jobgate_server: Callable[..., JobgateServer]) -> JobgateServer:
    return module_jobgate_server(JOBGATE_RUNNERS=1)


@pytest.fixture(scope="module")
def alice(server: JobgateServer) -> BirstUser:
    return add_birst_users(server, "alice")["alice"]


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}", "--window-size=1024,900"):
        options.add_argument(flag)
    service = Service(executable_path=CHROMEDRIVER, log_output=subprocess.DEVNULL)
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    try:
        yield driver
    finally:
        driver.quit()


def screenshot(driver: WebDriver, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / f"birst-browser-{name}.png"))


def test_a_person_cancels_their_running_job_with_the_test_form(
    browser: WebDriver, server: JobgateServer, alice: BirstUser
) -> None:
    space = new_space()
    with server.client() as http:
        token = login(http, alice)
        with running_job(http, token, space) as job_token:
            try:
                browser.get(server.url + PATH)
                browser.find_element(By.LINK_TEXT, "cancelJob").click()
                wait_until(lambda: browser.find_elements(By.NAME, "jobToken"), PAGE_TIMEOUT_S, 0.05, "the page")
                assert browser.current_url == f"{server.url}{PATH}?op=cancelJob"
                for name, value in (("token", token), ("spaceID", space), ("jobToken", job_token)):
                    browser.find_element(By.NAME, name).send_keys(value)
                screenshot(browser, "1-form-filled")

                browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Invoke]").click()

                wait_until(lambda: len(browser.window_handles) == 2, PAGE_TIMEOUT_S, 0.05, "the answer's window")
                browser.switch_to.window(browser.window_handles[-1])
                wait_until(lambda: browser.current_url.endswith("/cancelJob"), PAGE_TIMEOUT_S, 0.05, "the answer")
                assert browser.current_url == f"{server.url}{PATH}/cancelJob"
                assert "true" in browser.page_source
                assert detailed_status(http, token, job_token) in ("Cancelling", "Cancelled")
            finally:
                screenshot(browser, "2-after-invoke")

    [job] = [job for job in jobgate_json(server, "job", "list") if job["key"] == job_token]
    shown = show(server, job["id"])
    assert shown["state"] in ("Canceling", "Cancelled")
    assert [(e["actor"], e["protocol"]) for e in cancel_events(shown)] == [("alice", "birst")]
