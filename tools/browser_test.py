"""The live console in a real browser: headless Chromium (Debian's chromium and
chromium-driver) driven by selenium, against a vigil-local binary.

Given vigil-local on a free port, when an analyst opens /console and logs in, and a
sensor posts a CSV of threat records (as `curl --data-binary @flood.csv` would), then
the new alert appears in the page without a reload, with its severity. The message the
page received is also checked against asyncapi.json's schema (JSON Schema, with every
$ref resolved in the document).

Usage: tools/browser_test.py [path/to/vigil-local]   (run by tools/test.sh)
"""

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import jsonschema
import referencing
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as seen
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/debug/vigil-local")
PASSWORD = "browser-test-admin-password"

# The 41 NSL-KDD features in CSV order, and a synthetic SYN flood (half-open
# connections, flag S0, to one host): not a dataset row.
FEATURES = (
    "duration protocol_type service flag src_bytes dst_bytes land wrong_fragment urgent hot "
    "num_failed_logins logged_in num_compromised root_shell su_attempted num_root "
    "num_file_creations num_shells num_access_files num_outbound_cmds is_host_login "
    "is_guest_login count srv_count serror_rate srv_serror_rate rerror_rate srv_rerror_rate "
    "same_srv_rate diff_srv_rate srv_diff_host_rate dst_host_count dst_host_srv_count "
    "dst_host_same_srv_rate dst_host_diff_srv_rate dst_host_same_src_port_rate "
    "dst_host_srv_diff_host_rate dst_host_serror_rate dst_host_srv_serror_rate "
    "dst_host_rerror_rate dst_host_srv_rerror_rate"
).split()
SYN_FLOOD = {
    "protocol_type": "tcp", "service": "private", "flag": "S0", "count": 220,
    "srv_count": 12, "serror_rate": 1.0, "srv_serror_rate": 1.0, "same_srv_rate": 0.05,
    "diff_srv_rate": 0.07, "dst_host_count": 255, "dst_host_srv_count": 12,
    "dst_host_same_srv_rate": 0.05, "dst_host_diff_srv_rate": 0.07,
    "dst_host_serror_rate": 1.0, "dst_host_srv_serror_rate": 1.0,
}


def csv_line(record):
    return ",".join(str(record.get(name, 0)) for name in FEATURES)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, content_type="application/json"):
    headers = {"Content-Type": content_type}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + path, data, headers, method=method)
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def start_server():
    port = free_port()
    env = dict(os.environ, VIGIL_ADMIN_PASSWORD=PASSWORD, VIGIL_STORE="embedded", RUST_LOG="warn")
    env.pop("VIGIL_TOPIC_ARN", None)
    log = open(os.path.join(ROOT, "target/browser-test-vigil-local.log"), "w")
    server = subprocess.Popen([BINARY, "--port", str(port)], env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(base + "/health")
            return server, base
        except OSError:
            if server.poll() is not None:
                sys.exit(f"vigil-local did not start (see {log.name})")
            time.sleep(0.2)
    sys.exit("vigil-local did not answer /health")


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    # Headless, as root in CI, and quiet: without the background-networking flags
    # Chromium keeps dialling out of a closed network.
    for flag in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}"]:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def check_against_contract(message, base):
    """Validates a pushed message against asyncapi.json's EventMessage schema."""
    document = json.load(urllib.request.urlopen(base + "/asyncapi.json"))
    registry = referencing.Registry().with_resource(
        "urn:vigil:asyncapi", referencing.Resource.from_contents(document, referencing.jsonschema.DRAFT202012)
    )
    schema = {"$ref": "urn:vigil:asyncapi#/components/schemas/EventMessage"}
    jsonschema.Draft202012Validator(schema, registry=registry).validate(message)


def main():
    server, base = start_server()
    failures = []
    try:
        admin = call(base, "POST", "/auth/login", body={"username": "admin", "password": PASSWORD})["token"]
        call(base, "POST", "/auth/register", admin,
             {"username": "ana", "password": "ana-password-12345", "role": "analyst"})
        call(base, "POST", "/auth/register", admin,
             {"username": "edge", "password": "edge-password-12345", "role": "sensor"})
        sensor = call(base, "POST", "/auth/login",
                      body={"username": "edge", "password": "edge-password-12345"})["token"]
        with tempfile.TemporaryDirectory() as profile:
            driver = browser(profile)
            try:
                wait = WebDriverWait(driver, 10)
                # Given an analyst logged in to the console, live
                driver.get(base + "/console")
                driver.find_element(By.ID, "username").send_keys("ana")
                driver.find_element(By.ID, "password").send_keys("ana-password-12345")
                driver.find_element(By.ID, "login").click()
                wait.until(seen.text_to_be_present_in_element((By.ID, "status"), "live"))
                rows_before = len(driver.find_elements(By.CSS_SELECTOR, "#alerts tbody tr"))
                # And a second socket in the page, to read a raw message
                driver.execute_script("""
                    window.raw = [];
                    fetch('/auth/ws-ticket', {method: 'POST', headers: {Authorization: 'Bearer ' + state.token}})
                      .then(r => r.json())
                      .then(t => { const ws = new WebSocket('ws://' + location.host + '/ws?ticket=' + t.ticket);
                                   ws.onmessage = m => window.raw.push(JSON.parse(m.data));
                                   ws.onopen = () => { window.rawOpen = true; }; });
                """)
                wait.until(lambda d: d.execute_script("return window.rawOpen === true"))

                # When a sensor posts a CSV of threat records
                sent = time.monotonic()
                body = ("\n".join(csv_line(SYN_FLOOD) for _ in range(3)) + "\n").encode()
                result = call(base, "POST", "/threat-detection/predict", sensor, body, "text/csv")
                alert_id = result["predictions"][0]["alert_id"]

                # Then the alert appears in the page, without a reload, with its severity
                row = wait.until(seen.presence_of_element_located(
                    (By.CSS_SELECTOR, f'#alerts tbody tr[data-id="{alert_id}"]')))
                shown = time.monotonic() - sent
                severity = row.get_attribute("data-severity")
                badge = row.find_element(By.CSS_SELECTOR, ".sev").text
                if badge != severity or severity not in ("low", "medium", "high", "critical"):
                    failures.append(f"the row shows severity {badge!r}, the alert has {severity!r}")
                if "created" not in row.text:
                    failures.append(f"the row does not say the alert was created: {row.text!r}")
                if len(driver.find_elements(By.CSS_SELECTOR, "#alerts tbody tr")) != rows_before + 1:
                    failures.append("one new alert should add one row")
                print(f"browser: alert {alert_id} ({severity}) shown {shown * 1000:.0f} ms after the POST")

                # And the message the page received is what the contract says
                wait.until(lambda d: d.execute_script("return window.raw.some(m => m.type === 'created')"))
                message = next(m for m in driver.execute_script("return window.raw") if m["type"] == "created")
                check_against_contract(message, base)
            finally:
                driver.quit()
    except Exception as e:  # noqa: BLE001 - any failure is the test's verdict
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        server.terminate()
        server.wait()
    for failure in failures:
        print(f"browser test failed: {failure}")
    print(f"browser: {'FAILED' if failures else 'passed'}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
