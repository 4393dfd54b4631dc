"""A fast SMTP sink for the send benchmark: real SMTP over TCP on 127.0.0.1, nothing kept.

    python bench/sink.py [--processes N]

It speaks enough of RFC 5321 for any client: a 220 greeting, EHLO/HELO (advertising 8BITMIME,
SMTPUTF8 and SIZE), MAIL FROM, RCPT TO, DATA (354, then the message up to the ``<CRLF>.<CRLF>``
line, dot-stuffing undone), RSET, NOOP and QUIT, with 503 for a command out of order and 500/502
for a bad or unknown one. Each accepted message is counted with its size (as the client handed
it over, before dot-stuffing), then dropped.

Written on asyncio's protocol interface: a message of 70 KB arrives in a few chunks and the
end-of-data search runs in C, so the sink costs little CPU per message and does not set the
ceiling for the clients it measures (aiosmtpd reads a message line by line in Python and does,
on a small machine). ``--processes N`` runs N sink processes on one port (``SO_REUSEPORT``; the
kernel spreads the connections over them).

Protocol on stdin/stdout, for the benchmark that starts it: it prints the port, then answers
each line ``count`` with ``MESSAGES BYTES`` (the totals so far, over all processes), and stops
at EOF.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import socket
import sys

HOST = "127.0.0.1"
MAX_LINE = 4096
MAX_SIZE = 32 * 1024 * 1024
END = b"\r\n.\r\n"


class Totals:
    """Messages and bytes accepted by this process, in memory shared with the parent (one
    writer each: this process, right before its 250 reply)."""

    def __init__(self) -> None:
        self.messages = multiprocessing.RawValue("q", 0)
        self.size = multiprocessing.RawValue("q", 0)


class SinkProtocol(asyncio.Protocol):
    """One SMTP session."""

    def __init__(self, totals: Totals) -> None:
        self.totals = totals
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.greeted = False
        self.sender: bytes | None = None
        self.recipients = 0
        self.in_data = False
        self.scanned = 0  # where the search for the end of the data resumes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.reply(b"220 127.0.0.1 bench sink ESMTP")

    def reply(self, line: bytes) -> None:
        assert self.transport is not None
        self.transport.write(line + b"\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.transport is not None and not self.transport.is_closing():
            if self.in_data:
                if not self.take_message():
                    return
            else:
                end = self.buffer.find(b"\r\n")
                if end < 0:
                    if len(self.buffer) > MAX_LINE:
                        self.reply(b"500 5.5.6 line too long")
                        self.transport.close()
                    return
                line = bytes(self.buffer[:end])
                del self.buffer[:end + 2]
                self.command(line)

    def take_message(self) -> bool:
        """Consume one message if its end has arrived; False to wait for more data."""
        if self.buffer.startswith(b".\r\n"):  # an empty message
            body, rest = b"", 3
        else:
            end = self.buffer.find(END, max(self.scanned - len(END), 0))
            if end < 0:
                self.scanned = len(self.buffer)
                if len(self.buffer) > MAX_SIZE + 1024:
                    self.reply(b"552 5.3.4 message too big")
                    assert self.transport is not None
                    self.transport.close()
                return False
            body, rest = bytes(self.buffer[:end + 2]), end + len(END)
        del self.buffer[:rest]
        self.scanned = 0
        self.in_data = False
        if body.startswith(b".."):
            body = body[1:]
        body = body.replace(b"\r\n..", b"\r\n.")
        self.totals.messages.value += 1
        self.totals.size.value += len(body)
        self.sender, self.recipients = None, 0
        self.reply(b"250 2.0.0 OK: queued")
        return True

    def command(self, line: bytes) -> None:
        verb, _, argument = line.partition(b" ")
        verb = verb.upper()
        if verb in (b"EHLO", b"HELO"):
            self.greeted = True
            self.sender, self.recipients = None, 0
            if verb == b"HELO":
                self.reply(b"250 127.0.0.1")
            else:
                self.reply(b"250-127.0.0.1\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n"
                           b"250 SIZE %d" % MAX_SIZE)
        elif verb == b"MAIL":
            if not self.greeted or self.sender is not None:
                self.reply(b"503 5.5.1 bad sequence of commands")
            elif not argument.upper().startswith(b"FROM:"):
                self.reply(b"501 5.5.4 syntax: MAIL FROM:<address>")
            else:
                self.sender = argument[5:].strip()
                self.reply(b"250 2.1.0 OK")
        elif verb == b"RCPT":
            if self.sender is None:
                self.reply(b"503 5.5.1 need MAIL first")
            elif not argument.upper().startswith(b"TO:"):
                self.reply(b"501 5.5.4 syntax: RCPT TO:<address>")
            else:
                self.recipients += 1
                self.reply(b"250 2.1.5 OK")
        elif verb == b"DATA":
            if not self.recipients:
                self.reply(b"503 5.5.1 need RCPT first")
            else:
                self.in_data = True
                self.reply(b"354 end data with <CR><LF>.<CR><LF>")
        elif verb == b"RSET":
            self.sender, self.recipients = None, 0
            self.reply(b"250 2.0.0 OK")
        elif verb == b"NOOP":
            self.reply(b"250 2.0.0 OK")
        elif verb == b"QUIT":
            self.reply(b"221 2.0.0 bye")
            assert self.transport is not None
            self.transport.close()
        else:
            self.reply(b"502 5.5.2 command not implemented")


def listening_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((HOST, port))
    sock.listen(512)
    return sock


def serve(sock: socket.socket, totals: Totals) -> None:
    """Run one sink process on ``sock``."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: SinkProtocol(totals), sock=sock)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def run(processes: int) -> None:
    first = listening_socket(0)
    port = int(first.getsockname()[1])
    counters = [Totals() for _ in range(processes)]
    children = []
    for n, totals in enumerate(counters):
        sock = first if n == 0 else listening_socket(port)
        child = multiprocessing.Process(target=serve, args=(sock, totals), daemon=True)
        child.start()
        children.append(child)
        sock.close()
    print(port, flush=True)
    try:
        for line in sys.stdin:
            if line.strip() == "count":
                print(sum(t.messages.value for t in counters),
                      sum(t.size.value for t in counters), flush=True)
    finally:
        for child in children:
            child.terminate()
            child.join()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=1,
                        help="sink processes sharing the port (1)")
    args = parser.parse_args(argv)
    run(max(1, args.processes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
