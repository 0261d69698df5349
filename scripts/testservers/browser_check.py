"""Drives the dashboard in headless Chromium (Debian's chromium + chromium-driver, through selenium):
loads the page, waits for the live stream, reads a panel, clicks "Place an order", and waits (at most
the given seconds) for that panel to be replaced by the server's push with a new value. Writes a
screenshot. Prints one JSON object; exits 0 when the panel updated in time, 1 otherwise.

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
    WebDriverWait(driver, 20).until(lambda d: d.execute_script("return document.body.dataset.live === 'true'"))
    result["charts"] = len(driver.find_elements(By.CSS_SELECTOR, "svg.bars rect.bar"))
    before = driver.find_element(By.ID, panel_id).text
    result["before"] = before
    driver.find_element(By.ID, "place-order").click()
    clicked = time.monotonic()
    try:
        WebDriverWait(driver, limit, poll_frequency=0.02).until(
            lambda d: d.execute_script(
                "const p = document.getElementById(arguments[0]); return p && Number(p.dataset.updates || '0') >= 1;", panel_id)
            and d.find_element(By.ID, panel_id).text != before)
        result["updated"] = True
        result["seconds"] = round(time.monotonic() - clicked, 3)
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
