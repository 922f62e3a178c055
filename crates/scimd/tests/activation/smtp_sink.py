"""A real SMTP server for the activation tests: aiosmtpd on loopback, one file per message.

Usage: smtp_sink.py PORT DIR

Each accepted message is written to DIR/<n>.eml (written to a temporary name, then renamed,
so a reader never sees half a message), prefixed with `X-Envelope-To:` lines holding the SMTP
envelope recipients. Prints `ready` once listening. Runs until killed.
"""

import itertools
import os
import signal
import sys
import threading

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            n = next(self.counter)
        head = "".join(f"X-Envelope-To: {rcpt}\r\n" for rcpt in envelope.rcpt_tos)
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp = os.path.join(self.directory, f".{n}.tmp")
        with open(tmp, "wb") as f:
            f.write(head.encode("ascii") + data)
        os.rename(tmp, os.path.join(self.directory, f"{n}.eml"))
        return "250 OK queued as %d" % n


def main():
    port, directory = int(sys.argv[1]), sys.argv[2]
    os.makedirs(directory, exist_ok=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    main()
