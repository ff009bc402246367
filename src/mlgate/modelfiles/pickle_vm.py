"""Static pickle analysis: read a pickle's opcodes and never unpickle it.

`scan_pickles` walks the opcode stream of one or more pickles read from a byte stream,
with bounded memory: arguments it does not need (bytes, long strings) are skipped, not
kept, and the symbolic stack and memo it keeps are capped. It records every global the
pickle imports (GLOBAL, INST, STACK_GLOBAL, with the two string operands of STACK_GLOBAL
tracked through the stack and the memo: BINPUT/LONG_BINPUT/PUT/MEMOIZE and
BINGET/LONG_BINGET/GET), which opcodes call each one (REDUCE, BUILD, INST, OBJ, NEWOBJ,
NEWOBJ_EX), and calls of anything that is not an imported global.

The simulation is never stricter than CPython's unpickler (it ignores frames and protocol
numbers, and tolerates missing memo entries) and stops only where CPython stops too (an
unknown opcode, truncated data, a stack underflow), so a crafted stream cannot make it give
up before a payload that `pickle.load` would still reach.

Which of the globals are safe is decided apart, in `mlgate.modelfiles.allowlist`.
"""

from __future__ import annotations

import bisect
import codecs
import io
import math
import pickletools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from mlgate.modelfiles.errors import check_deadline

# --- limits -------------------------------------------------------------------------------

KEEP_STR = 256  # longer strings are skipped (no module or class name is that long)
KEEP_ITEMS = 16  # tuples and dicts with more items are not tracked
STACK_CAP = 50_000  # tracked values on the symbolic stack; beyond it values are forgotten
MEMO_CAP = 250_000  # tracked memo entries
MEMO_KEYS_CAP = 1_000_000  # sparse memo indexes tracked to compute MEMOIZE's implicit index
GLOBALS_CAP = 10_000  # distinct globals recorded per stream
INDIRECT_CAP = 100
CHUNK = 1 << 16
DEADLINE_MASK = (1 << 15) - 1  # the deadline is checked every 32768 opcodes

# The first pickle of PyTorch's legacy (non-zip) format is this magic number; four more
# pickles follow (protocol, sys_info, the object, the storage keys), then raw tensor data.
TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
TORCH_LEGACY_PICKLES = 5


class ByteSource(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class ParseError(Exception):
    """The stream is not a (complete, well-formed) pickle."""


class Truncated(ParseError):
    """The data ended inside an opcode; `needed` is the stream offset it would have reached
    (-1 when unknown, e.g. inside a newline-terminated argument)."""

    def __init__(self, offset: int, needed: int = -1) -> None:
        super().__init__(f"pickle data was truncated at byte {offset}")
        self.needed = needed


class Unprovable(ParseError):
    """The scanner cannot tell where the pickle goes on (e.g. raw joblib array data of a size
    it cannot compute): what follows cannot be proven safe."""


# --- values on the symbolic stack ---------------------------------------------------------


class _Unknown:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()
_MARK_ERROR = "MARK not found (unpickling stack underflow)"


@dataclass(frozen=True)
class GlobalRef:
    """A global as the pickle names it (`module`, `name`), before any renaming."""

    module: str
    name: str

    @property
    def dotted(self) -> str:
        return f"{self.module}.{self.name}"


UNRESOLVED = GlobalRef("<unresolved>", "STACK_GLOBAL")
PERSISTENT = GlobalRef("<persistent id>", "")
CALL_RESULT = GlobalRef("<call result>", "")


class Instance:
    """The result of calling something inside the pickle (REDUCE, NEWOBJ, OBJ, INST)."""

    __slots__ = ("args", "opcode", "origin", "state")

    def __init__(self, origin: GlobalRef, args: object = UNKNOWN, opcode: str = "") -> None:
        self.origin = origin
        self.args = args
        self.opcode = opcode
        self.state: object = UNKNOWN


# --- the report -----------------------------------------------------------------------------


@dataclass
class PickleReport:
    """What one stream holds: globals in order of first use, and how each was used."""

    calls: dict[GlobalRef, set[str]] = field(default_factory=dict)
    indirect_calls: list[str] = field(default_factory=list)
    error: str | None = None  # the first pickle could not be fully parsed
    unprovable: str | None = None  # the scanner lost track of where the pickle goes on
    swept: list[GlobalRef] = field(default_factory=list)  # globals found by the byte search
    notes: list[str] = field(default_factory=list)
    pickles: int = 0
    opcodes: int = 0
    bytes_read: int = 0
    persistent_ids: int = 0

    @property
    def globals(self) -> list[GlobalRef]:
        return list(self.calls)

    def add_global(self, ref: GlobalRef) -> None:
        if ref not in self.calls and len(self.calls) < GLOBALS_CAP:
            self.calls[ref] = set()
        elif ref not in self.calls:
            self.note_once(f"more than {GLOBALS_CAP} distinct globals: the rest are not listed")

    def add_call(self, callee: object, opcode: str) -> None:
        if isinstance(callee, GlobalRef):
            self.add_global(callee)
            self.calls.get(callee, set()).add(opcode)
        else:
            self.add_indirect(f"{opcode} on {describe(callee)}")

    def add_indirect(self, text: str) -> None:
        if len(self.indirect_calls) < INDIRECT_CAP:
            self.indirect_calls.append(text)

    def note_once(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)


def describe(value: object) -> str:
    if isinstance(value, Instance):
        origin = value.origin
        what = origin.module if origin.module.startswith("<") else origin.dotted
        return f"an object built in the pickle ({what})"
    if isinstance(value, GlobalRef):
        return value.dotted
    return "a value the scanner does not track" if value is UNKNOWN else f"a {type(value).__name__}"


# --- buffered reading -----------------------------------------------------------------------


class _Reader:
    """Reads a stream in chunks; never keeps more than a chunk and one kept argument."""

    def __init__(self, source: ByteSource) -> None:
        self._source = source
        self._buf = b""
        self._pos = 0
        self._base = 0  # stream offset of _buf[0]

    @property
    def offset(self) -> int:
        return self._base + self._pos

    def _fill(self) -> bool:
        data = self._source.read(CHUNK)
        if not data:
            return False
        self._base += self._pos
        self._buf = self._buf[self._pos :] + data
        self._pos = 0
        return True

    def at_end(self) -> bool:
        return self._pos >= len(self._buf) and not self._fill()

    def byte(self) -> int:
        if self._pos >= len(self._buf) and not self._fill():
            raise Truncated(self.offset, self.offset + 1)
        value = self._buf[self._pos]
        self._pos += 1
        return value

    def take(self, size: int) -> bytes:
        end = self._pos + size
        if end <= len(self._buf):
            data = self._buf[self._pos : end]
            self._pos = end
            return data
        while len(self._buf) - self._pos < size:
            if not self._fill():
                raise Truncated(self.offset, self.offset + size)
        data = self._buf[self._pos : self._pos + size]
        self._pos += size
        return data

    def rest(self) -> bytes:
        """What is left of the buffer (the source is exhausted)."""
        data = self._buf[self._pos :]
        self._pos = len(self._buf)
        return data

    def skip(self, size: int) -> None:
        left = size
        while left > 0:
            if self._pos >= len(self._buf) and not self._fill():
                raise Truncated(self.offset, self.offset + left)
            step = min(left, len(self._buf) - self._pos)
            self._pos += step
            left -= step

    def line(self) -> bytes | None:
        """A newline-terminated argument without its newline; None when longer than KEEP_STR."""
        kept = bytearray()
        overflow = False
        while True:
            if self._pos >= len(self._buf) and not self._fill():
                raise Truncated(self.offset)
            end = self._buf.find(b"\n", self._pos)
            stop = len(self._buf) if end < 0 else end
            if not overflow:
                kept += self._buf[self._pos : stop]
                overflow = len(kept) > KEEP_STR
            self._pos = stop if end < 0 else end + 1
            if end >= 0:
                return None if overflow else bytes(kept)


# --- argument decoding ----------------------------------------------------------------------


def _sized(reader: _Reader, size: int, decode: Callable[[bytes], object]) -> object:
    if size < 0:
        raise ParseError(f"negative byte count at byte {reader.offset}")
    if size > KEEP_STR:
        reader.skip(size)
        return UNKNOWN
    return decode(reader.take(size))


def _utf8(data: bytes) -> object:
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        return UNKNOWN


def _latin1(data: bytes) -> object:
    return data.decode("latin-1")


def _long(data: bytes) -> object:
    return int.from_bytes(data, "little", signed=True)


def _int_line(line: bytes | None) -> object:
    if line is None:
        return UNKNOWN
    text = line.strip().rstrip(b"L")
    if line in (b"00", b"01"):
        return line == b"01"
    try:
        return int(text)
    except ValueError:
        return UNKNOWN


def _quoted_string(line: bytes | None) -> object:
    if line is None or len(line) < 2 or line[0] not in b"'\"" or line[-1] != line[0]:
        return UNKNOWN
    try:
        return codecs.escape_decode(line[1:-1])[0].decode("latin-1")
    except (ValueError, UnicodeDecodeError):
        return UNKNOWN


def _raw_unicode(line: bytes | None) -> object:
    if line is None:
        return UNKNOWN
    try:
        return line.decode("raw-unicode-escape")
    except UnicodeDecodeError:
        return UNKNOWN


def _text_line(line: bytes | None) -> object:
    return UNKNOWN if line is None else _utf8(line)


def _count(reader: _Reader, width: int, signed: bool = False) -> int:
    return int.from_bytes(reader.take(width), "little", signed=signed)


def _skip_value(_data: bytes) -> object:
    return UNKNOWN


def _fixed(width: int, signed: bool) -> Callable[[_Reader], object]:
    def read(reader: _Reader) -> object:
        return int.from_bytes(reader.take(width), "little", signed=signed)

    return read


def _sized_arg(
    width: int, signed: bool, decode: Callable[[bytes], object]
) -> Callable[[_Reader], object]:
    def read(reader: _Reader) -> object:
        return _sized(reader, _count(reader, width, signed), decode)

    return read


def _line_arg(decode: Callable[[bytes | None], object]) -> Callable[[_Reader], object]:
    def read(reader: _Reader) -> object:
        return decode(reader.line())

    return read


def _skip8(reader: _Reader) -> object:
    reader.skip(8)
    return UNKNOWN


def _pair(reader: _Reader) -> object:
    return (_text_line(reader.line()), _text_line(reader.line()))


def _byte(reader: _Reader) -> object:
    return reader.byte()


_ARG_READERS: dict[str, Callable[[_Reader], object]] = {
    "uint1": _byte,
    "uint2": _fixed(2, False),
    "int4": _fixed(4, True),
    "uint4": _fixed(4, False),
    "uint8": _fixed(8, False),
    "float8": _skip8,
    "long1": _sized_arg(1, False, _long),
    "long4": _sized_arg(4, True, _long),
    "string1": _sized_arg(1, False, _latin1),
    "string4": _sized_arg(4, True, _latin1),
    "bytes1": _sized_arg(1, False, _skip_value),
    "bytes4": _sized_arg(4, False, _skip_value),
    "bytes8": _sized_arg(8, False, _skip_value),
    "bytearray8": _sized_arg(8, False, _skip_value),
    "unicodestring1": _sized_arg(1, False, _utf8),
    "unicodestring4": _sized_arg(4, False, _utf8),
    "unicodestring8": _sized_arg(8, False, _utf8),
    "decimalnl_short": _line_arg(_int_line),
    "decimalnl_long": _line_arg(_int_line),
    "floatnl": _line_arg(lambda _line: UNKNOWN),
    "stringnl": _line_arg(_quoted_string),
    "stringnl_noescape": _line_arg(_text_line),
    "unicodestringnl": _line_arg(_raw_unicode),
    "stringnl_noescape_pair": _pair,
}


# --- the symbolic stack and memo --------------------------------------------------------------


class _Stack:
    """The unpickler's stack with its marks. Runs of untracked values are counted, not kept
    (`_ends[i]` is the stack size up to and including entry i), and past STACK_CAP tracked
    values new ones are forgotten, so memory stays bounded however big a MARK frame is."""

    def __init__(self) -> None:
        self._values: list[object] = []
        self._ends: list[int] = []
        self.size = 0
        self.marks: list[int] = []
        self.forgot = False

    def push(self, value: object) -> None:
        self.size += 1
        if value is UNKNOWN or len(self._values) >= STACK_CAP:
            self.forgot = self.forgot or value is not UNKNOWN
            if self._values and self._values[-1] is UNKNOWN:
                self._ends[-1] = self.size
                return
            value = UNKNOWN
        self._values.append(value)
        self._ends.append(self.size)

    def _fence(self) -> int:
        return self.marks[-1] if self.marks else 0

    def pop(self) -> object:
        if self.size <= self._fence():
            raise ParseError("unpickling stack underflow")
        return self._pop_one()

    def _pop_one(self) -> object:
        self.size -= 1
        previous = self._ends[-2] if len(self._ends) > 1 else 0
        if self._ends[-1] - previous > 1:
            self._ends[-1] -= 1
            return UNKNOWN
        self._ends.pop()
        return self._values.pop()

    def top(self) -> object:
        if self.size <= self._fence():
            raise ParseError("unpickling stack underflow")
        return self._values[-1]

    def pop_mark(self) -> tuple[object, list[object] | None]:
        """Pop everything above the last MARK: (first item, all items or None when many)."""
        if not self.marks:
            raise ParseError(_MARK_ERROR)
        start = self.marks.pop()
        count = self.size - start
        if count <= KEEP_ITEMS:
            items = [self._pop_one() for _ in range(count)]
            items.reverse()
            return (items[0] if items else UNKNOWN), items
        first = self._values[bisect.bisect_right(self._ends, start)]
        self._truncate(start)
        return first, None

    def _truncate(self, size: int) -> None:
        """Drop everything above `size` at C speed (a run across the cut is shortened)."""
        keep = bisect.bisect_right(self._ends, size)
        previous = self._ends[keep - 1] if keep else 0
        if keep < len(self._ends) and previous < size:
            self._ends[keep] = size
            keep += 1
        del self._values[keep:]
        del self._ends[keep:]
        self.size = size

    def pop_mark_or_self(self) -> None:
        """POP: pops the mark itself when the stack is empty above it (like CPython)."""
        if self.marks and self.marks[-1] == self.size:
            self.marks.pop()
            return
        self.pop()


def _storable(value: object) -> bool:
    return value is not UNKNOWN


class _Memo:
    """The memo: tracked values by index, plus enough to know `len(memo)` for MEMOIZE."""

    def __init__(self) -> None:
        self.values: dict[int, object] = {}
        self._dense = 0  # indexes 0.._dense-1 are all set
        self._sparse: set[int] = set()
        self.full = False

    def __len__(self) -> int:
        return self._dense + len(self._sparse)

    def put(self, index: int, value: object) -> None:
        self._mark_used(index)
        if not _storable(value):
            self.values.pop(index, None)
        elif index in self.values or len(self.values) < MEMO_CAP:
            self.values[index] = value
        else:
            self.full = True

    def _mark_used(self, index: int) -> None:
        if index < self._dense or index in self._sparse:
            return
        if index != self._dense:
            if len(self._sparse) >= MEMO_KEYS_CAP:
                raise ParseError(f"more than {MEMO_KEYS_CAP} scattered memo indexes")
            self._sparse.add(index)
            return
        self._dense += 1
        while self._dense in self._sparse:
            self._sparse.discard(self._dense)
            self._dense += 1

    def get(self, index: object) -> object:
        return self.values.get(index, UNKNOWN) if isinstance(index, int) else UNKNOWN

    def has(self, index: object) -> bool:
        if not isinstance(index, int):
            return False
        return index < self._dense or index in self._sparse


# --- the machine ------------------------------------------------------------------------------


# Globals whose instances' arguments and state are kept, by their full dotted name (so the
# protocol 4 spelling `joblib` + `numpy_pickle.NumpyArrayWrapper` is the same class).
_JOBLIB_WRAPPERS = frozenset(
    {
        "joblib.numpy_pickle.NumpyArrayWrapper",
        "sklearn.externals.joblib.numpy_pickle.NumpyArrayWrapper",
    }
)
_DTYPES = frozenset({"numpy.dtype", "numpy.core.multiarray.dtype", "numpy._core.multiarray.dtype"})
_TRACKED_ORIGINS = _JOBLIB_WRAPPERS | _DTYPES


def _tracked(ref: GlobalRef) -> bool:
    return ref.dotted in _TRACKED_ORIGINS


class _Machine:
    """Runs one pickle's opcodes against the symbolic stack and memo."""

    def __init__(
        self,
        reader: _Reader,
        report: PickleReport,
        deadline: float | None,
        strict: bool = False,
    ) -> None:
        self.reader = reader
        self.report = report
        self.deadline = deadline
        self.strict = strict  # fail where CPython fails on a missing memo key or a bad operand
        self.stack = _Stack()
        self.memo = _Memo()
        self._interned: dict[GlobalRef, Instance] = {}

    def run(self) -> object:
        """Run to STOP; returns the value on top of the stack at STOP."""
        reader, table = self.reader, _DISPATCH
        count = 0
        try:
            while True:
                code = reader.byte()
                entry = table[code]
                if entry is None:
                    raise ParseError(f"invalid opcode 0x{code:02x} at byte {reader.offset - 1}")
                count += 1
                if not count & DEADLINE_MASK:
                    self._check_deadline()
                read_arg, handler = entry
                arg = read_arg(reader) if read_arg is not None else None
                if handler is None:  # STOP
                    return self.stack.top() if self.stack.size else UNKNOWN
                handler(self, arg)
        finally:
            self.report.opcodes += count
            if self.stack.forgot or self.memo.full:
                self.report.note_once(
                    "a very large pickle: some values were not tracked, so a global built "
                    "from them is reported as <unresolved>"
                )

    def _check_deadline(self) -> None:
        check_deadline(self.deadline, f"scan timed out after {self.report.opcodes} opcodes")

    def instance(self, origin: GlobalRef, args: object, opcode: str = "") -> Instance:
        if _tracked(origin):
            return Instance(origin, args, opcode)
        found = self._interned.get(origin)
        if found is None:
            found = self._interned[origin] = Instance(origin)
        return found

    def call(self, callee: object, args: object, opcode: str) -> None:
        self.report.add_call(callee, opcode)
        misuse = _index_misuse(callee, args)
        if misuse is not None:
            self.report.add_indirect(misuse)
        origin = callee if isinstance(callee, GlobalRef) else CALL_RESULT
        self.stack.push(self.instance(origin, args, opcode))


# pandas' index unpicklers (`_new_Index(cls, d)`, `_new_DatetimeIndex`, `_new_PeriodIndex`)
# return `cls.__new__(cls, **d)`: allowlisted only as long as `cls` is a pandas index class the
# pickle names (itself classified like every global), never another callable or a built object.
_INDEX_HELPER = re.compile(r"^_+new_\w*Index$")
_INDEX_CLASS = re.compile(r"^([A-Z]\w*)?Index$")


def _index_misuse(callee: object, args: object) -> str | None:
    """Why a call of a pandas index unpickler builds something other than an index, if it does."""
    if not isinstance(callee, GlobalRef) or not _INDEX_HELPER.match(callee.name):
        return None
    if callee.module.split(".")[0] != "pandas":
        return None
    cls = args[0] if isinstance(args, tuple) and args else UNKNOWN
    if isinstance(cls, GlobalRef) and _pandas_index_class(cls):
        return None
    return f"{callee.dotted} builds {describe(cls)}, not a pandas Index class"


def _pandas_index_class(ref: GlobalRef) -> bool:
    return ref.module.split(".")[0] == "pandas" and bool(_INDEX_CLASS.match(ref.name))


def _op_push_arg(machine: _Machine, arg: object) -> None:
    machine.stack.push(arg)


def _op_none(machine: _Machine, _arg: object) -> None:
    machine.stack.push(None)


def _op_true(machine: _Machine, _arg: object) -> None:
    machine.stack.push(True)


def _op_false(machine: _Machine, _arg: object) -> None:
    machine.stack.push(False)


def _op_empty_tuple(machine: _Machine, _arg: object) -> None:
    machine.stack.push(())


def _tuple_of(count: int) -> Callable[[_Machine, object], None]:
    def handler(machine: _Machine, _arg: object) -> None:
        items = [machine.stack.pop() for _ in range(count)]
        machine.stack.push(tuple(reversed(items)))

    return handler


def _op_tuple(machine: _Machine, _arg: object) -> None:
    _first, items = machine.stack.pop_mark()
    machine.stack.push(UNKNOWN if items is None else tuple(items))


def _op_empty_dict(machine: _Machine, _arg: object) -> None:
    machine.stack.push({})


def _set_items(target: object, items: Sequence[object] | None) -> None:
    if not isinstance(target, dict) or "<untracked>" in target:
        return
    if items is None or len(target) + len(items) // 2 > KEEP_ITEMS:
        target.clear()
        target["<untracked>"] = True
        return
    for key, value in zip(items[::2], items[1::2], strict=False):
        if isinstance(key, (str, int)):
            target[key] = value


def _op_dict(machine: _Machine, _arg: object) -> None:
    _first, items = machine.stack.pop_mark()
    built: dict[object, object] = {}
    _set_items(built, items)
    machine.stack.push(built)


def _op_setitem(machine: _Machine, _arg: object) -> None:
    value = machine.stack.pop()
    key = machine.stack.pop()
    _set_items(machine.stack.top(), [key, value])


def _op_setitems(machine: _Machine, _arg: object) -> None:
    _first, items = machine.stack.pop_mark()
    _set_items(machine.stack.top(), items)


def _op_mark(machine: _Machine, _arg: object) -> None:
    machine.stack.marks.append(machine.stack.size)


def _op_pop(machine: _Machine, _arg: object) -> None:
    machine.stack.pop_mark_or_self()


def _op_dup(machine: _Machine, _arg: object) -> None:
    machine.stack.push(machine.stack.top())


def _op_get(machine: _Machine, arg: object) -> None:
    if machine.strict and not machine.memo.has(arg):
        raise ParseError(f"memo key {arg!r} not found")
    machine.stack.push(machine.memo.get(arg))


def _op_put(machine: _Machine, arg: object) -> None:
    value = machine.stack.top()
    if isinstance(arg, int):
        machine.memo.put(arg, value)


def _op_memoize(machine: _Machine, _arg: object) -> None:
    machine.memo.put(len(machine.memo), machine.stack.top())


def _op_global(machine: _Machine, arg: object) -> None:
    ref = _pair_ref(arg)
    machine.report.add_global(ref)
    machine.stack.push(ref)


def _pair_ref(arg: object) -> GlobalRef:
    if isinstance(arg, tuple) and len(arg) == 2:
        module, name = arg
        if isinstance(module, str) and isinstance(name, str):
            return GlobalRef(module, name)
    return UNRESOLVED


def _op_stack_global(machine: _Machine, _arg: object) -> None:
    name = machine.stack.pop()
    module = machine.stack.pop()
    ok = isinstance(module, str) and isinstance(name, str)
    if machine.strict and not ok:
        raise ParseError("STACK_GLOBAL requires str operands")
    ref = GlobalRef(str(module), str(name)) if ok else UNRESOLVED
    machine.report.add_global(ref)
    machine.stack.push(ref)


def _op_ext(machine: _Machine, arg: object) -> None:
    ref = GlobalRef("<extension registry>", f"code {arg}")
    machine.report.add_global(ref)
    machine.stack.push(ref)


def _op_inst(machine: _Machine, arg: object) -> None:
    ref = _pair_ref(arg)
    _first, items = machine.stack.pop_mark()
    machine.call(ref, UNKNOWN if items is None else tuple(items), "INST")


def _op_obj(machine: _Machine, _arg: object) -> None:
    first, items = machine.stack.pop_mark()
    if items is not None and not items:
        raise ParseError("OBJ without a class (unpickling stack underflow)")
    machine.call(first, UNKNOWN if items is None else tuple(items[1:]), "OBJ")


def _op_reduce(machine: _Machine, _arg: object) -> None:
    args = machine.stack.pop()
    machine.call(machine.stack.pop(), args, "REDUCE")


def _op_newobj(machine: _Machine, _arg: object) -> None:
    args = machine.stack.pop()
    machine.call(machine.stack.pop(), args, "NEWOBJ")


def _op_newobj_ex(machine: _Machine, _arg: object) -> None:
    machine.stack.pop()
    args = machine.stack.pop()
    machine.call(machine.stack.pop(), args, "NEWOBJ_EX")


def _op_build(machine: _Machine, _arg: object) -> None:
    state = machine.stack.pop()
    target = machine.stack.top()
    if isinstance(target, GlobalRef):  # sets attributes of a class or module: a gadget
        machine.report.add_call(target, "BUILD")
        machine.report.add_indirect(f"BUILD on {target.dotted} itself")
        return
    if not isinstance(target, Instance):
        return
    uses = machine.report.calls.get(target.origin)
    if uses is not None:
        uses.add("BUILD")
    if _tracked(target.origin):
        target.state = state
        if target.origin.dotted in _JOBLIB_WRAPPERS:
            _skip_joblib_array(machine, target)


def _op_persid(machine: _Machine, _arg: object) -> None:
    machine.report.persistent_ids += 1
    machine.stack.push(machine.instance(PERSISTENT, UNKNOWN))


def _op_binpersid(machine: _Machine, _arg: object) -> None:
    machine.stack.pop()
    _op_persid(machine, None)


def _op_nothing(_machine: _Machine, _arg: object) -> None:
    return


_HANDLERS: dict[str, Callable[[_Machine, object], None]] = {
    **dict.fromkeys(
        ("INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4"), _op_push_arg
    ),
    **dict.fromkeys(
        (
            "STRING",
            "BINSTRING",
            "SHORT_BINSTRING",
            "UNICODE",
            "BINUNICODE",
            "SHORT_BINUNICODE",
            "BINUNICODE8",
        ),
        _op_push_arg,
    ),
    "NONE": _op_none,
    "NEWTRUE": _op_true,
    "NEWFALSE": _op_false,
    "EMPTY_TUPLE": _op_empty_tuple,
    "TUPLE1": _tuple_of(1),
    "TUPLE2": _tuple_of(2),
    "TUPLE3": _tuple_of(3),
    "TUPLE": _op_tuple,
    "EMPTY_DICT": _op_empty_dict,
    "DICT": _op_dict,
    "SETITEM": _op_setitem,
    "SETITEMS": _op_setitems,
    "MARK": _op_mark,
    "POP": _op_pop,
    "DUP": _op_dup,
    **dict.fromkeys(("GET", "BINGET", "LONG_BINGET"), _op_get),
    **dict.fromkeys(("PUT", "BINPUT", "LONG_BINPUT"), _op_put),
    "MEMOIZE": _op_memoize,
    "GLOBAL": _op_global,
    "STACK_GLOBAL": _op_stack_global,
    **dict.fromkeys(("EXT1", "EXT2", "EXT4"), _op_ext),
    "INST": _op_inst,
    "OBJ": _op_obj,
    "REDUCE": _op_reduce,
    "NEWOBJ": _op_newobj,
    "NEWOBJ_EX": _op_newobj_ex,
    "BUILD": _op_build,
    "PERSID": _op_persid,
    "BINPERSID": _op_binpersid,
    "PROTO": _op_nothing,
    "FRAME": _op_nothing,
}


def _generic(info: pickletools.OpcodeInfo) -> Callable[[_Machine, object], None]:
    """The stack effect pickletools describes, with untracked results."""
    before = [item.name for item in info.stack_before]
    has_mark = "mark" in before
    pops = before.index("mark") if has_mark else len(before)
    pushes = len(info.stack_after)

    def handler(machine: _Machine, _arg: object) -> None:
        if has_mark:
            machine.stack.pop_mark()
        for _ in range(pops):
            machine.stack.pop()
        for _ in range(pushes):
            machine.stack.push(UNKNOWN)

    return handler


_Entry = tuple[Callable[[_Reader], object] | None, Callable[[_Machine, object], None] | None]


def _dispatch_table() -> list[_Entry | None]:
    table: list[_Entry | None] = [None] * 256
    for info in pickletools.opcodes:
        read_arg = _ARG_READERS[info.arg.name] if info.arg is not None else None
        handler = None if info.name == "STOP" else _HANDLERS.get(info.name, _generic(info))
        table[ord(info.code)] = (read_arg, handler)
    return table


_DISPATCH = _dispatch_table()


# --- joblib: raw array data inside the pickle stream ---------------------------------------

_WRAPPER_INIT = ("subclass", "shape", "order", "dtype", "allow_mmap", "numpy_array_alignment_bytes")
_WRAPPER_DEFAULTS: dict[str, object] = {"allow_mmap": False, "numpy_array_alignment_bytes": 16}


def _skip_joblib_array(machine: _Machine, wrapper: Instance) -> None:
    """joblib's NumpyUnpickler.load_build: after BUILD on a NumpyArrayWrapper it reads the
    array from the stream, a nested pickle when `dtype.hasobject`, else an optional padding
    (one length byte then that many bytes, whenever `numpy_array_alignment_bytes` is set, to
    anything but None) and `count * dtype.itemsize` raw bytes. Skip them the same way, or
    raise Unprovable when any of those values is not known for sure."""
    attrs = _wrapper_attrs(wrapper)
    count = _element_count(attrs.get("shape", UNKNOWN))
    info = dtype_info(attrs.get("dtype", UNKNOWN))
    if count is None or info is None:
        raise Unprovable(
            "a joblib array of a shape or dtype the scanner cannot compute: where its raw "
            f"data ends (byte {machine.reader.offset} on) is unknown"
        )
    itemsize, has_object = info
    if has_object:
        _Machine(machine.reader, machine.report, machine.deadline).run()
        return
    alignment = attrs.get("numpy_array_alignment_bytes")
    if alignment is UNKNOWN:
        raise Unprovable("a joblib array whose alignment setting the scanner cannot read")
    if "numpy_array_alignment_bytes" in attrs and alignment is not None:
        machine.reader.skip(machine.reader.byte())
    machine.reader.skip(count * itemsize)


def _wrapper_attrs(wrapper: Instance) -> dict[str, object]:
    """The wrapper's attributes as the unpickled object has them: __init__'s (when it was
    called through REDUCE/INST/OBJ), updated by BUILD's state dict and slot state."""
    attrs: dict[str, object] = {}
    if wrapper.opcode in ("REDUCE", "INST", "OBJ"):
        args = wrapper.args
        if not isinstance(args, tuple) or not 4 <= len(args) <= len(_WRAPPER_INIT):
            return {"shape": UNKNOWN}
        attrs.update(_WRAPPER_DEFAULTS)
        attrs.update(zip(_WRAPPER_INIT, args, strict=False))
    elif wrapper.opcode not in ("NEWOBJ", "NEWOBJ_EX"):
        return {"shape": UNKNOWN}
    state = wrapper.state
    parts = state if isinstance(state, tuple) and len(state) == 2 else (state,)
    for part in parts:
        if part is None and len(parts) == 2:
            continue
        if not isinstance(part, dict) or "<untracked>" in part:
            return {"shape": UNKNOWN}
        attrs.update({k: v for k, v in part.items() if isinstance(k, str)})
    return attrs


def _element_count(shape: object) -> int | None:
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    return math.prod(n for n in shape if isinstance(n, int))


_FIXED_SIZES = {"b": 1, "?": 1, "O": 8, "M": 8, "m": 8}
_TYPESTR = re.compile(r"^[<>|=]?([?bBhHiIlLqQpPefdgFDGSUVaOMmiuc])(\d*)(\[\w+\])?$")
_FLEXIBLE = frozenset("SUVa")
NPY_ITEM_HASOBJECT = 0x01


def dtype_info(value: object) -> tuple[int, bool] | None:
    """(itemsize, hasobject) of a numpy.dtype built in the pickle, computed the way numpy's
    dtype(...) then __setstate__ does (the pickled elsize of a flexible type and the pickled
    flags win: numpy trusts them), or None when it cannot be known for sure."""
    if not isinstance(value, Instance) or value.origin.dotted not in _DTYPES:
        return None
    args = value.args
    if not isinstance(args, tuple) or not args or not isinstance(args[0], str):
        return None
    base = base_dtype(args[0])
    if base is None:
        return None
    kind, itemsize, has_object = base
    state = value.state
    if state is UNKNOWN:
        return itemsize, has_object
    if not isinstance(state, tuple) or len(state) not in (8, 9):
        return None
    elsize, flags = state[5], state[7]
    if not isinstance(elsize, int) or not isinstance(flags, int):
        return None
    if kind in _FLEXIBLE and elsize > 0:
        itemsize = elsize
    return itemsize, bool(flags & NPY_ITEM_HASOBJECT)


def base_dtype(text: str) -> tuple[str, int, bool] | None:
    """(kind, itemsize, hasobject) of `numpy.dtype(text)`: numpy's answer when it is
    installed (a type string imports nothing), else the plain type strings numpy writes."""
    try:
        import numpy  # noqa: PLC0415  (optional; only to interpret a dtype string)
    except ImportError:
        return _typestr_dtype(text)
    try:
        dtype = numpy.dtype(text)
    except (TypeError, ValueError, SyntaxError):
        return None
    return str(dtype.kind), int(dtype.itemsize), bool(dtype.hasobject)


def _typestr_dtype(text: str) -> tuple[str, int, bool] | None:
    match = _TYPESTR.match(text)
    if match is None:
        return None
    char, digits, _unit = match.groups()
    if char in _FIXED_SIZES and not digits:
        return char, _FIXED_SIZES[char], char == "O"
    if not digits:
        return None
    size = int(digits) * (4 if char == "U" else 1)
    return ("V" if char == "V" else char), size, char == "O"


# --- driving several pickles ----------------------------------------------------------------


def scan_pickles(
    source: ByteSource,
    deadline: float | None = None,
    max_pickles: int | None = None,
    report: PickleReport | None = None,
) -> PickleReport:
    """Scan the pickles in `source`, one after another, as repeated `pickle.load` calls would.

    The first pickle must parse to its STOP, or `report.error` says why. Data after it is
    scanned as further pickles; when that data is not a pickle, a note says so. A legacy
    PyTorch file (magic number first) is read as its five pickles.
    """
    reader = _Reader(source)
    report = PickleReport() if report is None else report
    limit = max_pickles
    while limit is None or report.pickles < limit:
        if reader.at_end():
            if report.pickles == 0:
                report.error = "empty file"
            break
        start = reader.offset
        try:
            top = _Machine(reader, report, deadline).run()
        except Unprovable as exc:
            report.unprovable = str(exc)
            sweep_globals(reader, report, deadline)
            break
        except ParseError as exc:
            _record_error(report, start, str(exc))
            break
        finally:
            report.bytes_read = reader.offset
        report.pickles += 1
        if report.pickles == 1 and top == TORCH_LEGACY_MAGIC and limit is None:
            limit = TORCH_LEGACY_PICKLES
    return report


_SWEEP_GLOBAL = re.compile(rb"[ci]([A-Za-z_][\w.]{0,200})\n([A-Za-z_][\w.]{0,200})\n")
_SWEEP_STRING = re.compile(rb"\x8c([\x01-\xc8])|X([\x01-\xc8])\x00\x00\x00")
_SWEEP_NAME = re.compile(r"^[A-Za-z_][\w.]*$")
SWEEP_OVERLAP = 512


def sweep_globals(reader: _Reader, report: PickleReport, deadline: float | None) -> None:
    """Where the opcode walk cannot go on, search the rest of the stream for the byte
    patterns that import a global (GLOBAL/INST lines; two short strings then STACK_GLOBAL),
    so a payload after the lost position is still named. Bounded by the caller's stream."""
    carry = b""
    while True:
        check_deadline(deadline, "scan timed out in the byte search")
        try:
            chunk = reader.take(CHUNK)
        except Truncated:
            chunk = reader.rest()
        if not chunk:
            return
        data = carry + chunk
        for ref in _swept(data):
            if ref not in report.calls:
                report.swept.append(ref)
            report.add_global(ref)
        carry = data[-SWEEP_OVERLAP:]


def _swept(data: bytes) -> list[GlobalRef]:
    found = [
        GlobalRef(m.group(1).decode(), m.group(2).decode()) for m in _SWEEP_GLOBAL.finditer(data)
    ]
    strings: list[tuple[int, str]] = []
    for match in _SWEEP_STRING.finditer(data):
        size = (match.group(1) or match.group(2))[0]
        raw = data[match.end() : match.end() + size]
        text = raw.decode("utf-8", "replace")
        if len(raw) == size and _SWEEP_NAME.match(text):
            strings.append((match.end() + size, text))
    for index in range(1, len(strings)):
        end = strings[index][0]
        tail = data.find(b"\x93", end, end + 12)
        if tail >= 0 and strings[index - 1][0] >= end - 2 * 0xC8 - 16:
            found.append(GlobalRef(strings[index - 1][1], strings[index][1]))
    return found


def parses_as_pickle(head: bytes, size: int) -> bool:
    """Whether a file of `size` bytes that starts with `head` is a pickle stream: the first
    pickle's opcodes, run as strictly as CPython runs them (any protocol, any first opcode,
    no PROTO needed), reach STOP, or reach the end of `head` needing no more bytes than the
    file has."""
    if not head:
        return False
    machine = _Machine(_Reader(io.BytesIO(head)), PickleReport(), None, strict=True)
    try:
        machine.run()
    except Truncated as exc:
        return len(head) < size and exc.needed <= size
    except Unprovable:  # valid as far as the scanner can follow it
        return True
    except ParseError:
        return False
    return True


def _record_error(report: PickleReport, start: int, message: str) -> None:
    if report.pickles == 0:
        report.error = message
    else:
        report.notes.append(
            f"the {report.pickles} pickle(s) were followed by data at byte {start} that is "
            f"not a complete pickle ({message}); it was scanned as far as it parses"
        )
