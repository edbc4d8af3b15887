#!/usr/bin/env python3
"""A stand-in for journald: binds a unix datagram socket at the path given
and appends every entry it receives, as one JSON object per line, to the
output file. Parses journald's native protocol (KEY=value lines, and the
binary form KEY\\n<le64 length><data>\\n). Stops after `--seconds`."""
import json, os, socket, struct, sys, time

def parse(data):
    fields, i = {}, 0
    while i < len(data):
        nl = data.find(b"\n", i)
        if nl < 0:
            nl = len(data)
        line = data[i:nl]
        if b"=" in line:
            k, v = line.split(b"=", 1)
            fields.setdefault(k.decode(), []).append(v.decode("utf-8", "replace"))
            i = nl + 1
        else:
            (size,) = struct.unpack("<Q", data[nl + 1:nl + 9])
            v = data[nl + 9:nl + 9 + size]
            fields.setdefault(line.decode(), []).append(v.decode("utf-8", "replace"))
            i = nl + 9 + size + 1
    return fields

def main():
    path, out, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)
    s.settimeout(0.2)
    end = time.monotonic() + seconds
    with open(out, "a") as f:
        while time.monotonic() < end:
            try:
                data = s.recv(1 << 20)
            except socket.timeout:
                continue
            f.write(json.dumps(parse(data)) + "\n")
            f.flush()

main()
