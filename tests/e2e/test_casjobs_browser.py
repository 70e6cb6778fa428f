"""A person with a browser: headless Chromium opens jobs.asmx's operation list, follows CancelJob, fills the
test form with a running job of theirs and presses Invoke; the job is then Canceling or Cancelled.

Debian's chromium and chromium-driver (installed by .ci/run), driven by Selenium with the driver's path
given, so that Selenium Manager downloads nothing. Screenshots are kept in test-artifacts/.
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

from support.casjobs import (
    CANCELING_OR_CANCELLED,
    JOBS_PATH,
    CasUser,
    add_users,
    cancel_events,
    endless_job,
    show,
    status,
)
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
def alice(server: JobgateServer) -> CasUser:
    return add_users(server, "alice")["alice"]


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
    driver.save_screenshot(str(ARTIFACTS / f"casjobs-browser-{name}.png"))


def test_a_person_cancels_their_running_job_with_the_test_form(
    browser: WebDriver, server: JobgateServer, alice: CasUser
) -> None:
    with server.client() as http, endless_job(http, alice) as job_id:
        try:
            browser.get(server.url + JOBS_PATH)
            browser.find_element(By.LINK_TEXT, "CancelJob").click()
            wait_until(lambda: browser.find_elements(By.NAME, "jobId"), PAGE_TIMEOUT_S, 0.05, "the CancelJob page")
            assert browser.current_url == f"{server.url}{JOBS_PATH}?op=CancelJob"
            for name, value in (("wsId", alice.wsid), ("pw", alice.password), ("jobId", job_id)):
                browser.find_element(By.NAME, name).send_keys(str(value))
            screenshot(browser, "1-form-filled")

            browser.find_element(By.CSS_SELECTOR, "input[type=submit][value=Invoke]").click()

            wait_until(lambda: len(browser.window_handles) == 2, PAGE_TIMEOUT_S, 0.05, "the answer's window")
            browser.switch_to.window(browser.window_handles[-1])
            wait_until(lambda: browser.current_url.endswith("/CancelJob"), PAGE_TIMEOUT_S, 0.05, "the answer")
            assert browser.current_url == f"{server.url}{JOBS_PATH}/CancelJob"
            assert status(http, alice, job_id) in CANCELING_OR_CANCELLED
        finally:
            screenshot(browser, "2-after-invoke")

    shown = show(server, job_id)
    assert shown["state"] in ("Canceling", "Cancelled")
    assert [(e["actor"], e["protocol"]) for e in cancel_events(shown)] == [("alice", "casjobs")]
