"""Forwards TCP connections from one address (the container bridge's host side)
to services on 127.0.0.1, so that containers reach the local emulators while
these keep listening on loopback only. Used by scripts/sam-local.sh.

    bridge_relay.py LISTEN_IP TARGET_PORT...

Listens on a free port of LISTEN_IP for each target port and, once all listen,
prints one line "TARGET_PORT LISTEN_PORT" for each on stdout. Bytes pass through
unchanged (TLS included), so the stand-in's certificate reaches the container as is."""

import asyncio
import sys


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copies one direction; passes the end of it on as a half-close."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.transport.abort()


def forward_to(target_port: int):
    async def handle(client_reader, client_writer):
        try:
            target_reader, target_writer = await asyncio.open_connection("127.0.0.1", target_port)
        except OSError:
            client_writer.transport.abort()
            return
        await asyncio.gather(pipe(client_reader, target_writer), pipe(target_reader, client_writer))
        client_writer.close()
        target_writer.close()

    return handle


async def main(listen_ip: str, target_ports: list) -> None:
    servers = [await asyncio.start_server(forward_to(port), listen_ip, 0) for port in target_ports]
    for port, server in zip(target_ports, servers):
        print(port, server.sockets[0].getsockname()[1], flush=True)
    await asyncio.gather(*(server.serve_forever() for server in servers))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    asyncio.run(main(sys.argv[1], [int(p) for p in sys.argv[2:]]))
