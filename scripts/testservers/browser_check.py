"""Drives the dashboard in headless Chromium (Debian's chromium + chromium-driver, through selenium):
loads the page, waits for the live stream, reads a panel, clicks "Place an order", and waits for that
panel to be replaced by the server's push with a new value. Writes a screenshot. Prints one JSON
object; exits 0 when the panel updated within the given seconds (measured in the page), 1 otherwise.

usage: browser_check.py URL PANEL_ID SCREENSHOT_PATH [SECONDS]
"""
import json
import sys
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

url, panel_id, screenshot = sys.argv[1], sys.argv[2], sys.argv[3]
limit = float(sys.argv[4]) if len(sys.argv) > 4 else 2.0

options = webdriver.ChromeOptions()
options.binary_location = "/usr/bin/chromium"
for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1400,1000"):
    options.add_argument(flag)
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
result = {"url": url}
try:
    driver.get(url)
    WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.body.dataset.live === 'true'"))
    result["charts"] = len(driver.find_elements(By.CSS_SELECTOR, "svg.bars rect.bar"))
    before = driver.find_element(By.ID, panel_id).text
    result["before"] = before
    # The latency is measured inside the page (click to the DOM replacement, seen by a
    # MutationObserver), not by WebDriver's polling, whose round trips a loaded machine slows down.
    driver.execute_script("""
        const id = arguments[0], before = arguments[1];
        window.__updatedAt = null;
        new MutationObserver(() => {
          const p = document.getElementById(id);
          if (window.__updatedAt === null && p && Number(p.dataset.updates || '0') >= 1 && p.innerText !== before)
            window.__updatedAt = performance.now();
        }).observe(document.body, {childList: true, subtree: true});
        window.__clickedAt = performance.now();
        document.getElementById('place-order').click();
    """, panel_id, before)
    try:
        WebDriverWait(driver, max(limit, 30), poll_frequency=0.05).until(
            lambda d: d.execute_script("return window.__updatedAt !== null"))
        seconds = driver.execute_script("return (window.__updatedAt - window.__clickedAt) / 1000")
        result["seconds"] = round(seconds, 3)
        result["updated"] = seconds <= limit
    except Exception:
        result["updated"] = False
    result["after"] = driver.find_element(By.ID, panel_id).text
    result["status"] = driver.find_element(By.ID, "status").text
    driver.save_screenshot(screenshot)
    result["screenshot"] = screenshot
finally:
    driver.quit()
print(json.dumps(result))
sys.exit(0 if result.get("updated") else 1)
