#!/usr/bin/env python3
"""TCP throughput for bench/rootless.sh, the same program at both ends of every path measured.

  tcpbench.py sink PORT [ADDR]    accept connections forever, read each to EOF, then close it
  tcpbench.py send ADDR PORT MIB  send MIB MiB, half-close, wait for the sink's close; print MiB/s
"""
import socket
import sys
import threading
import time

CHUNK = 1 << 20


def drain(conn: socket.socket) -> None:
    buf = bytearray(CHUNK)
    with conn:
        while conn.recv_into(buf):
            pass


def sink(port: int, addr: str) -> None:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((addr, port))
    srv.listen(16)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=drain, args=(conn,), daemon=True).start()


def send(addr: str, port: int, mib: int) -> None:
    data = memoryview(bytes(CHUNK))
    with socket.create_connection((addr, port), timeout=60) as c:
        t0 = time.monotonic()
        for _ in range(mib):
            c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)  # the sink closes once it has read everything
        print(f"{mib / (time.monotonic() - t0):.1f}")


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        sink(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else "0.0.0.0")
    else:
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
