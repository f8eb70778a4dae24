#!/usr/bin/env python3
# Copyright (c) Berth authors. SPDX-License-Identifier: MIT
"""A real HTTP/2 server on 127.0.0.1 for the network tests (tst_networkhttp2).

TLS with ALPN: a client that offers "h2" gets HTTP/2 (hyper-h2, the python3-h2 package), one
that offers only "http/1.1" gets a minimal HTTP/1.1 server, so a test can tell which protocol
the client chose. Endpoints, by path:
  /fast          200, body "<protocol>"  ("h2" or "http/1.1")
  /delay?ms=N    the same after N ms
  /never         no answer
Every event is one line on stdout, read by the test:
  listening <port>
  conn <id> <protocol>            a connection, after ALPN
  req <conn> <stream> <path> <ms> a request arrived (<ms>: wall clock, ms since the epoch)
  done <conn> <stream>            its response was sent
  reset <conn> <stream>           the client reset a stream whose answer was pending
  closed <conn> <pending>         the connection closed with <pending> requests unanswered
  error <conn>                    the client broke the HTTP/2 protocol (e.g. opened more
                                  streams than announced): the connection is closed
  goaway <conn> <stream>          a graceful GOAWAY went out (--goaway-after)
  refused <conn> <stream>         a stream was refused, RST_STREAM REFUSED_STREAM (--refuse-above)
Usage: h2server.py <cert.pem> <key.pem> [--max-streams N] [--no-h2] [--latency MS] [--goaway-after N]
                   [--goaway-linger MS] [--refuse-above N]
  --max-streams N   announce SETTINGS_MAX_CONCURRENT_STREAMS N (default: hyper-h2's, 100)
  --no-h2           offer only HTTP/1.1 by ALPN: a TLS server without HTTP/2
  --latency MS      a round trip of MS ms: every byte, both ways, the TLS handshake included,
                    passes a relay in front of the server that holds it MS/2 ms
  --goaway-after N  after the Nth request on a connection, a graceful GOAWAY (as nginx sends
                    after 1 000): the streams up to it are answered, then the connection closes
  --goaway-linger MS  ... MS ms after the last answer instead of at once: the connection stays
                    open meanwhile, as with a server that leaves the close to the client
  --refuse-above N  a request that arrives while N of its connection's requests wait for their
                    answers is refused with RST_STREAM REFUSED_STREAM before any processing, as
                    a loaded server sheds work (nginx does the same beyond its stream limit);
                    the announced limit stays hyper-h2's 100
"""
import argparse
import asyncio
import itertools
import ssl
import sys
import time
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import hyperframe.frame

_ids = itertools.count(1)
NO_H2 = False   # --no-h2: offer only HTTP/1.1 by ALPN, as a server without HTTP/2


def say(*words):
    print(*words, flush=True)


def now_ms():
    return int(time.time() * 1000)


def delay_of(path):
    parts = urlsplit(path)
    if parts.path == "/never":
        return None
    if parts.path == "/delay":
        return int(parse_qs(parts.query).get("ms", ["0"])[0]) / 1000.0
    return 0.0


class H2Connection:
    max_streams = None   # SETTINGS_MAX_CONCURRENT_STREAMS to announce; None: hyper-h2's default
    goaway_after = 0     # --goaway-after N: GOAWAY after the Nth request, close when all are answered
    goaway_linger = 0    # --goaway-linger MS: ... and that long after (the connection stays open meanwhile)
    refuse_above = 0     # --refuse-above N: REFUSED_STREAM for a request beyond N pending

    def __init__(self, reader, writer, cid):
        self.reader, self.writer, self.cid = reader, writer, cid
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        if self.max_streams is not None:
            self.conn.local_settings = h2.settings.Settings(
                client=False, initial_values={h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams})
        self.pending = {}   # stream id -> task answering it

    async def run(self):
        self.conn.initiate_connection()
        self.flush()
        try:
            while True:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    events = self.conn.receive_data(data)
                except h2.exceptions.ProtocolError as e:
                    say("error", self.cid, repr(e).replace(" ", "_"))
                    self.flush()   # the GOAWAY hyper-h2 prepared
                    break
                for event in events:
                    self.handle(event)
                self.flush()
        except (ConnectionError, ssl.SSLError):
            pass
        for task in self.pending.values():
            task.cancel()
        say("closed", self.cid, len(self.pending))
        self.writer.close()

    def handle(self, event):
        if isinstance(event, h2.events.RequestReceived):
            path = dict(event.headers).get(b":path", b"/").decode()
            if getattr(self, "going", False):
                return   # above the GOAWAY's last stream: refused, the client retries it elsewhere
            if self.refuse_above and len(self.pending) >= self.refuse_above:
                self.conn.reset_stream(event.stream_id, error_code=h2.errors.ErrorCodes.REFUSED_STREAM)
                say("refused", self.cid, event.stream_id)
                return
            say("req", self.cid, event.stream_id, path, now_ms())
            self.pending[event.stream_id] = asyncio.ensure_future(self.answer(event.stream_id, delay_of(path)))
            self.count = getattr(self, "count", 0) + 1
            if self.goaway_after and self.count >= self.goaway_after:
                self.going = True
                # A graceful GOAWAY, written by hand: hyper-h2's own closes its state machine,
                # and the streams up to this one must still be answered.
                self.flush()
                frame = hyperframe.frame.GoAwayFrame(0)
                frame.last_stream_id = event.stream_id
                frame.error_code = 0
                self.writer.write(frame.serialize())
                say("goaway", self.cid, event.stream_id)
        elif isinstance(event, h2.events.StreamReset):
            task = self.pending.pop(event.stream_id, None)
            if task:
                task.cancel()
                say("reset", self.cid, event.stream_id)
        elif isinstance(event, h2.events.ConnectionTerminated):
            self.writer.close()

    async def answer(self, stream_id, delay):
        if delay is None:
            await asyncio.Event().wait()   # never; cancelled by a reset or the close
        await asyncio.sleep(delay)
        if self.pending.pop(stream_id, None) is None:
            return
        body = b"h2"
        try:
            self.conn.send_headers(stream_id, [(":status", "200"), ("content-length", str(len(body))),
                                               ("content-type", "text/plain")])
            self.conn.send_data(stream_id, body, end_stream=True)
        except (h2.exceptions.StreamClosedError, h2.exceptions.ProtocolError):
            return
        self.flush()
        say("done", self.cid, stream_id)
        if getattr(self, "going", False) and not self.pending:
            # GOAWAY sent and every stream below it answered: close, at once or after the linger.
            if self.goaway_linger:
                asyncio.get_event_loop().call_later(self.goaway_linger / 1000.0, self.writer.close)
            else:
                self.writer.close()

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.writer.write(data)


async def http1(reader, writer, cid):
    """Keep-alive HTTP/1.1 without bodies in requests: enough for GETs."""
    stream = 0
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            stream += 1
            path = head.split(b" ", 2)[1].decode()
            say("req", cid, stream, path, now_ms())
            delay = delay_of(path)
            if delay is None:
                await reader.read()   # until the client goes
                say("closed", cid, 1)
                writer.close()
                return
            await asyncio.sleep(delay)
            body = b"http/1.1"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s"
                         % (len(body), body))
            await writer.drain()
            say("done", cid, stream)
    except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
        pass
    say("closed", cid, 0)
    writer.close()


async def serve(reader, writer):
    cid = next(_ids)
    protocol = writer.get_extra_info("ssl_object").selected_alpn_protocol() or "http/1.1"
    say("conn", cid, protocol)
    if protocol == "h2":
        await H2Connection(reader, writer, cid).run()
    else:
        await http1(reader, writer, cid)


async def pipe(reader, writer, delay):
    """Copies reader to writer, each chunk \a delay seconds after it was read, in order."""
    queue = asyncio.Queue()

    async def deliver():
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if data is None:
                break
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.ensure_future(deliver())
    try:
        while True:
            data = await reader.read(65536)
            queue.put_nowait((time.monotonic() + delay, data or None))
            if not data:
                break
    except ConnectionError:
        queue.put_nowait((time.monotonic() + delay, None))
    try:
        await sender
    except ConnectionError:
        pass


def relay(port, one_way):
    """A plain TCP relay to 127.0.0.1:port that delays each direction by one_way seconds."""
    async def handle(reader, writer):
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(pipe(reader, up_writer, one_way), pipe(up_reader, writer, one_way))
    return handle


async def main(cert, key, latency_ms):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.set_alpn_protocols(["http/1.1"] if NO_H2 else ["h2", "http/1.1"])
    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context, backlog=512)
    port = server.sockets[0].getsockname()[1]
    if latency_ms > 0:
        front = await asyncio.start_server(relay(port, latency_ms / 2000.0), "127.0.0.1", 0, backlog=512)
        port = front.sockets[0].getsockname()[1]
    say("listening", port)
    # Ends with stdin: the test closes it (or dies), and no server outlives its test.
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="HTTP/2 test server")
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("--max-streams", type=int)
    parser.add_argument("--no-h2", action="store_true")
    parser.add_argument("--latency", type=int, default=0)
    parser.add_argument("--goaway-after", type=int, default=0)
    parser.add_argument("--goaway-linger", type=int, default=0)
    parser.add_argument("--refuse-above", type=int, default=0)
    args = parser.parse_args()
    H2Connection.max_streams = args.max_streams
    H2Connection.goaway_after = args.goaway_after
    H2Connection.goaway_linger = args.goaway_linger
    H2Connection.refuse_above = args.refuse_above
    NO_H2 = args.no_h2
    asyncio.run(main(args.cert, args.key, args.latency))
