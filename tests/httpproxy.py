#!/usr/bin/env python3
# Copyright (c) Berth authors. SPDX-License-Identifier: MIT
"""A real forward HTTP proxy (or, with --socks, a SOCKS5 proxy) on 127.0.0.1 for the network
tests (tst_networkproxy, tst_e2e_network).

Requests in absolute form (GET http://host:port/path) are forwarded, one upstream connection per
client connection, with the request line rewritten and the Proxy-* headers dropped; CONNECT
host:port opens a tunnel (HTTPS, HTTP/2 included). Whatever host a request names, the proxy
connects to 127.0.0.1 at its port: tests use made-up names (*.test) that only the proxy
"resolves", so a request that reached the server went through the proxy, and nothing leaves the
machine. Standard library only.

Every event is one line on stdout, read by the test:
  listening <port>
  request <conn> <method> <target> <auth>   a request forwarded (<auth>: its Proxy-Authorization
                                            credentials "user:password", or "-")
  tunnel <conn> <host:port> <auth>          a CONNECT tunnel opened
  refused <conn> <method> <target> <auth>   answered 407: --user is set and the credentials
                                            did not match
With --socks, a SOCKS5 server (RFC 1928; with --user, username/password auth, RFC 1929):
  tunnel <conn> <host:port> <auth>          a CONNECT; <host> as the client sent it: a name
                                            (socks5h://, resolved by the proxy), an IPv4
                                            address or [an IPv6 one, 8 groups of 4 hex digits]
  refused <conn> socks - <auth>             the credentials did not match
Usage: httpproxy.py [--user USER:PASSWORD] [--socks]
The proxy ends when its stdin closes.
"""
import argparse
import asyncio
import base64
import itertools
import sys
from urllib.parse import urlsplit

_ids = itertools.count(1)
USER = None   # --user: the credentials every request must carry


def say(*words):
    print(*words, flush=True)


def credentials(headers):
    for name, value in headers:
        if name.lower() == "proxy-authorization":
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "basic":
                try:
                    return base64.b64decode(token).decode("utf-8")
                except ValueError:
                    return "?"
            return "?"
    return "-"


async def pipe(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:
            pass


async def handle(reader, writer):
    conn = next(_ids)
    upstream = None     # (port, writer, task relaying its answers back)
    try:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, target, version = lines[0].split(" ", 2)
            headers = []
            for line in lines[1:]:
                if line:
                    name, _, value = line.partition(":")
                    headers.append((name.strip(), value.strip()))
            length = int(next((v for n, v in headers if n.lower() == "content-length"), "0"))
            body = await reader.readexactly(length) if length else b""
            auth = credentials(headers)
            if USER is not None and auth != USER:
                say("refused", conn, method, target, auth)
                writer.write(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                             b"Proxy-Authenticate: Basic realm=\"berth-test\"\r\n"
                             b"Content-Length: 0\r\n\r\n")
                await writer.drain()
                continue
            if method == "CONNECT":
                port = int(target.rsplit(":", 1)[1])
                say("tunnel", conn, target, auth)
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
                await writer.drain()
                await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
                return
            url = urlsplit(target)
            port = url.port or 80
            say("request", conn, method, target, auth)
            if upstream is None or upstream[0] != port:
                if upstream is not None:
                    upstream[1].close()
                up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
                upstream = (port, up_writer, asyncio.ensure_future(pipe(up_reader, writer)))
            path = (url.path or "/") + ("?" + url.query if url.query else "")
            kept = [f"{n}: {v}" for n, v in headers if not n.lower().startswith("proxy-")]
            upstream[1].write((f"{method} {path} {version}\r\n" + "".join(k + "\r\n" for k in kept)
                               + "\r\n").encode("latin-1") + body)
            await upstream[1].drain()
    except ConnectionError:
        pass
    finally:
        if upstream is not None:
            upstream[1].close()
        writer.close()


async def handle_socks(reader, writer):
    conn = next(_ids)
    try:
        version, count = await reader.readexactly(2)
        methods = await reader.readexactly(count)
        wanted = 2 if USER is not None else 0   # username/password, or none
        if version != 5 or wanted not in methods:
            writer.write(bytes([5, 0xFF]))
            return
        writer.write(bytes([5, wanted]))
        auth = "-"
        if wanted == 2:
            _, ulen = await reader.readexactly(2)
            user = (await reader.readexactly(ulen)).decode()
            plen = (await reader.readexactly(1))[0]
            auth = user + ":" + (await reader.readexactly(plen)).decode()
            if auth != USER:
                say("refused", conn, "socks", "-", auth)
                writer.write(bytes([1, 1]))
                return
            writer.write(bytes([1, 0]))
        _, command, _, atyp = await reader.readexactly(4)
        if atyp == 1:
            host = ".".join(str(b) for b in await reader.readexactly(4))
        elif atyp == 3:
            host = (await reader.readexactly((await reader.readexactly(1))[0])).decode()
        else:
            raw = await reader.readexactly(16)
            host = "[" + ":".join(raw[i:i + 2].hex() for i in range(0, 16, 2)) + "]"
        port = int.from_bytes(await reader.readexactly(2), "big")
        if command != 1:   # CONNECT only
            writer.write(bytes([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]))
            return
        say("tunnel", conn, f"{host}:{port}", auth)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(bytes([5, 0, 0, 1, 127, 0, 0, 1]) + port.to_bytes(2, "big"))
        await writer.drain()
        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(socks):
    server = await asyncio.start_server(handle_socks if socks else handle, "127.0.0.1", 0, backlog=1024)
    say("listening", server.sockets[0].getsockname()[1])
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.read)   # ends with the test's stdin


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--user", help="USER:PASSWORD every request must carry (else 407)")
    parser.add_argument("--socks", action="store_true", help="a SOCKS5 proxy instead of an HTTP one")
    args = parser.parse_args()
    USER = args.user
    try:
        asyncio.run(main(args.socks))
    except KeyboardInterrupt:
        pass
