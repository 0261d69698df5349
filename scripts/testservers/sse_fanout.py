"""SSE fan-out: opens N streams on /api/analytics/stream?queries=today, waits for each stream's first
result, posts one order, and measures when each stream sees the change. Reports the delivery p50/p99,
how many received it, and the server's RSS growth per stream (from /proc/PID/status).

usage: sse_fanout.py BASE_URL N SERVER_PID
"""
import asyncio
import json
import resource
import sys
import time
import urllib.request

base, count, pid = sys.argv[1].rstrip("/"), int(sys.argv[2]), int(sys.argv[3])
host, port = base.split("//")[1].split(":")
port = int(port)
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, count * 2 + 100)), hard))


def rss_kib():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


async def stream(ready, posted, received, index):
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(f"GET /api/analytics/stream?queries=today HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n".encode())
    await writer.drain()
    first = True
    buffer = b""
    while True:
        chunk = await reader.read(65536)
        if not chunk:
            return
        buffer += chunk
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            if b"event: result" in frame or b"event: invalidated" in frame:
                if first:
                    first = False
                    ready.release()
                elif posted[0] is not None and index not in received:
                    received[index] = time.monotonic() - posted[0]
                    writer.close()
                    return


async def main():
    ready = asyncio.Semaphore(0)
    posted = [None]
    received = {}
    before = rss_kib()
    tasks = [asyncio.create_task(stream(ready, posted, received, i)) for i in range(count)]
    for _ in range(count):
        await asyncio.wait_for(ready.acquire(), timeout=120)
    after_open = rss_kib()
    body = json.dumps({"aggregateType": "Order", "aggregateId": f"fanout-{time.time_ns()}", "expectedVersion": "none",
                       "events": [{"type": "OrderPlaced", "payload": {"orderKey": 99, "customerKey": 1, "nationKey": 1,
                                                                       "totalCents": 100, "shipMode": "AIR"}}]}).encode()
    request = urllib.request.Request(base + "/api/events", data=body, headers={"Content-Type": "application/json"}, method="POST")
    posted[0] = time.monotonic()
    await asyncio.get_running_loop().run_in_executor(None, lambda: urllib.request.urlopen(request).read())
    deadline = time.monotonic() + 60
    while len(received) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    for task in tasks:
        task.cancel()
    times = sorted(received.values())
    def pct(p):
        return round(1000 * times[min(len(times) - 1, int(p * len(times)))], 1) if times else None
    print(json.dumps({"streams": count, "received": len(times), "p50_ms": pct(0.5), "p99_ms": pct(0.99), "max_ms": pct(1.0),
                      "rss_before_kib": before, "rss_open_kib": after_open,
                      "rss_per_stream_kib": round((after_open - before) / count, 1)}))


asyncio.run(main())
