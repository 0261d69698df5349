#!/usr/bin/env python3
"""An S3-compatible server (moto) for the remote-data tests, benchmark and demo, on loopback only.

Prints `PORT <n>` once listening (port 0 asks the system for a free one), then serves until its
standard input closes, so it never outlives the process that started it. Buckets and objects live
in memory and go with it. moto accepts any credentials.

    python s3_server.py [--port N]
"""
import argparse
import sys

from moto.server import ThreadedMotoServer


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=args.port, verbose=False)
    server.start()
    port = server._server.server_port  # the bound port when 0 was asked for
    print("PORT %d" % port, flush=True)
    sys.stdin.read()
    server.stop()


if __name__ == "__main__":
    main()
