"""Waits on an SSE stream for an event whose data contains a text, for the several-nodes tests.

Prints `connected` once the stream's first event arrived (the current results: anything posted
after that is an update), then the data line of the first `result` event containing NEEDLE, and
exits 0; exits 1 if the stream ends first. The caller's time limit bounds the wait.

usage: sse_wait.py STREAM_URL NEEDLE
"""
import sys
import urllib.request

url, needle = sys.argv[1], sys.argv[2]
request = urllib.request.Request(url, headers={"Accept": "text/event-stream"})
with urllib.request.urlopen(request, timeout=120) as response:
    event, announced = None, False
    for raw in response:
        line = raw.decode("utf-8").rstrip("\r\n")
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            if not announced:
                print("connected", flush=True)
                announced = True
            elif event == "result" and needle in line:
                print(line[5:].strip(), flush=True)
                sys.exit(0)
        elif line == "":
            event = None
sys.exit(1)
