"""Mutations of valid inputs, shared by the property tests and benchmarks/fuzz_inputs.py:
the damage real files show (cut lines, junk cells, a header line mid-file, extra fields,
missing rows, odd sensor names, shuffled rows, far-off times, binary junk)."""

from __future__ import annotations

import random


def mutate_text(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(9)
        i = rng.randrange(len(lines))
        if kind == 0:
            lines[i] = lines[i][: rng.randrange(len(lines[i]) + 1)]  # cut a line
        elif kind == 1:
            cells = lines[i].split(",")
            cells[rng.randrange(len(cells))] = rng.choice(["", "nan", "inf", "-1e400", "x", "1e12", " ", "\"a,b\""])
            lines[i] = ",".join(cells)
        elif kind == 2:
            lines.insert(i, lines[0])  # a header line in the middle
        elif kind == 3:
            lines[i] += "," + rng.choice(["1", "", "extra"])  # an extra field
        elif kind == 4:
            del lines[i:i + rng.randint(1, 50)]
        elif kind == 5:
            cells = lines[i].split(",")
            if len(cells) > 1:
                cells[1] = rng.choice(["neck", "", "THORACIC", "lumbar ", "sacral", "T1", "pelvis"])
            lines[i] = ",".join(cells)
        elif kind == 6:
            lines = lines[:1] + rng.sample(lines[1:], len(lines) - 1)  # shuffled rows
        elif kind == 7:
            cells = lines[i].split(",")
            cells[0] = str(rng.choice([86400.0 * 3, -5.0, 1e15, 0.0]))
            lines[i] = ",".join(cells)
        else:
            lines[i] = "".join(rng.choice("\x00\xff,;\t\"'") for _ in range(rng.randint(1, 20)))
    return "\n".join(lines) + "\n"


def mutate_bytes(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        kind = rng.randrange(4)
        if kind == 0 and out:
            at = rng.randrange(len(out))
            out[at:at + rng.randint(1, 64)] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        elif kind == 1:
            del out[rng.randrange(len(out) + 1):]
        elif kind == 2:
            at = rng.randrange(len(out) + 1)
            out[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
        else:
            out = out[: rng.randrange(len(out) + 1)]
    return bytes(out)
