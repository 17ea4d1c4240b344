#!/usr/bin/env python3
"""Drives order-console in headless Chromium (Selenium), for ConsoleBrowserSolo.

  replay:   load the dead letters, sign in with the token, find the group of the
            given failure reason, replay it through the confirmation step (the dry
            run first), and check the page says 1 replayed.
  timeline: load the order's timeline until its status is one of --expect-status.

On failure it saves a screenshot and the page source under --artefacts and exits 1.
--screenshot PATH saves the signed-in dead-letter page (docs/console.png).
"""
import argparse
import os
import sys
import time
import traceback

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def browser():
    options = Options()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    service = Service(os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    return driver


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def submit(driver, button):
    """Clicks a form's button and waits for the page it leads to: a click returns
    before the browser has left the page, whose source would still be read."""
    # A mark on the old page's window: the new page's window has none. (Chromium answers a
    # staleness check on a node of a page being replaced with an error of its own, not "stale".)
    driver.execute_script("window.leavingPage = true")
    button.click()
    WebDriverWait(driver, 30, ignored_exceptions=(WebDriverException,)).until(
        lambda d: d.execute_script("return window.leavingPage === undefined && document.readyState === 'complete'"))


def replay(driver, args):
    driver.get(args.url + "/dead-letters")
    check(args.reason in driver.page_source, f"the dead-letter page does not list the group {args.reason!r}")
    driver.get(args.url + "/sign-in")
    driver.find_element(By.ID, "name").send_keys("browser-test")
    driver.find_element(By.ID, "token").send_keys(args.token)
    submit(driver, driver.find_element(By.ID, "sign-in"))
    check("signed in as" in driver.page_source, "signing in did not work")
    check(driver.current_url.endswith("/dead-letters"), f"signing in led to {driver.current_url}")
    if args.screenshot:
        driver.save_screenshot(args.screenshot)
    # The group's row, found in one query (the reason is the test's own fixed slug, no quotes in it).
    group = driver.find_elements(By.XPATH, f"//tr[.//span[@class='reason' and normalize-space()='{args.reason}']]//button[@class='replay']")
    check(len(group) == 1, f"found {len(group)} groups with reason {args.reason!r}")
    submit(driver, group[0])
    dry_run = driver.find_element(By.ID, "dry-run").text
    check("would replay 1," in dry_run, f"the dry run says: {dry_run}")
    check(args.order_id in driver.page_source, "the dry run does not list the order's message")
    submit(driver, driver.find_element(By.ID, "confirm"))
    result = driver.find_element(By.ID, "result").text
    check(result.startswith("replayed 1,"), f"the replay says: {result}")
    print(f"replay: {result}")


def timeline(driver, args):
    wanted = set(args.expect_status.split(","))
    deadline = time.monotonic() + args.timeout
    status = None
    while True:
        driver.get(f"{args.url}/orders/{args.order_id}")
        found = driver.find_elements(By.CSS_SELECTOR, "#status .status")
        status = found[0].text if found else None
        if status in wanted or time.monotonic() > deadline:
            break
        time.sleep(1)
    check(status in wanted, f"the timeline shows status {status!r}, not one of {sorted(wanted)}")
    check("Transitions" in driver.page_source and "allocate" in driver.page_source, "the timeline lacks its transitions or movements")
    print(f"timeline: {status}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["replay", "timeline"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", default="")
    parser.add_argument("--order-id", required=True)
    parser.add_argument("--reason", default="database-unavailable")
    parser.add_argument("--expect-status", default="CONFIRMED")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--artefacts", default=os.path.join(os.environ.get("ORDERS_STATE_DIR", ".local"), "artefacts", "console"))
    parser.add_argument("--screenshot")
    args = parser.parse_args()
    driver = browser()
    try:
        (replay if args.phase == "replay" else timeline)(driver, args)
    except (Failure, WebDriverException) as error:
        os.makedirs(args.artefacts, exist_ok=True)
        stem = os.path.join(args.artefacts, f"{args.phase}-{args.order_id}-{int(time.time())}")
        driver.save_screenshot(stem + ".png")
        with open(stem + ".html", "w", encoding="utf-8") as page:
            page.write(driver.page_source)
        # The script's own line that failed (a WebDriver error's last frame is in Selenium).
        where = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == __file__][-1]
        print(f"FAILED at line {where.lineno} ({where.line}): {error}\nartefacts: {stem}.png {stem}.html", file=sys.stderr)
        return 1
    finally:
        driver.quit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
