"""A CSV file's bytes as UTF-8 for pandas, decoded line by line where a line is not valid text.

Real exports mix encodings: a UTF-8 file with a row pasted from a Windows tool (cp1252 bytes), or a stray invalid
byte. Refusing the file, or reading every row as one wrong codec ("ChloÃ©"), loses data; this stream decodes each
block of whole lines with the file's codec and, only for a block that fails, each line on its own: a UTF-8 line that
is not valid UTF-8 but reads as plausible cp1252 text is read as cp1252, otherwise its bad bytes become U+FFFD. Each
such line is remembered as a DecodeEvent with its physical line number, so the reader can name it.

The stream also keeps the decoded text of the lines pandas has read and the reader has not passed yet (a bounded
window: what pandas reads ahead for one chunk), so a row can be re-split by Python's csv module to count its fields.
"""

from __future__ import annotations

import codecs
import io
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, NamedTuple

READ_SIZE = 1 << 18
UTF8_CODECS = frozenset({"utf-8", "utf-8-sig"})
UTF8_BOM = codecs.BOM_UTF8
# Non-letters a cp1252 export plausibly holds: the typographic punctuation Windows tools type, currency, degrees.
CP1252_SYMBOLS = frozenset("€‚„…†‡‰‹›‘’“”•–—™¡¢£¥§©«®°±²³µ¶·¹º»¼½¾¿×÷\u00a0")
ASCII_PROBE = "\r\n,;|\t\"'0aZ"


class DecodeEvent(NamedTuple):
    """A physical line that was not valid text in the file's codec, and what was done about it."""

    line: int
    message: str


@dataclass
class _Block:
    first_line: int
    line_count: int
    text: str
    lines: list[str] | None = None

    def split(self) -> list[str]:
        if self.lines is None:
            # newline="" splits on \n, \r\n and a lone \r, as the line numbers count them, and keeps the endings.
            self.lines = io.StringIO(self.text, newline="").readlines()
        return self.lines


@dataclass
class _Window:
    """The decoded lines pandas has been given and the reader has not released yet."""

    blocks: deque[_Block] = field(default_factory=deque)
    _last: _Block | None = None  # the block the previous `line` call found: rows come in order

    def add(self, block: _Block) -> None:
        self.blocks.append(block)

    def release_before(self, line: int) -> None:
        while self.blocks and self.blocks[0].first_line + self.blocks[0].line_count <= line:
            self.blocks.popleft()

    def line(self, line: int) -> str:
        """The decoded text of physical `line` with its ending ("" when pandas has not read it)."""
        block = self._last
        if block is None or not block.first_line <= line < block.first_line + block.line_count:
            block = next((found for found in self.blocks if found.first_line + found.line_count > line), None)
            if block is None:
                return ""
            self._last = block
        lines = block.split()
        offset = line - block.first_line
        return lines[offset] if 0 <= offset < len(lines) else ""

    def lines_from(self, line: int) -> Iterator[str]:
        """The decoded lines from physical `line` on, as far as pandas has read (indexed: pandas may append meanwhile)."""
        index = 0
        while index < len(self.blocks):
            block = self.blocks[index]
            index += 1
            if block.first_line + block.line_count > line:
                lines = block.split()
                for offset in range(max(0, line - block.first_line), len(lines)):
                    yield lines[offset]


def line_breaks(data: bytes | str) -> int:
    """Physical line breaks: \\n, \\r\\n and a lone \\r each count once (works on bytes and text alike)."""
    if isinstance(data, bytes):
        return data.count(b"\n") + data.count(b"\r") - data.count(b"\r\n")
    return data.count("\n") + data.count("\r") - data.count("\r\n")


def _lines_in(data: bytes | str) -> int:
    """Lines in a piece: its breaks, plus one for a last line without a break."""
    breaks = line_breaks(data)
    return breaks + (0 if not data or data[-1:] in (b"\n", b"\r", "\n", "\r") else 1)


def _cut(data: bytes, at_end: bool) -> int:
    """Where the last whole line ends in `data`, or -1 when no line ends in it yet."""
    if at_end:
        return len(data)
    newline = data.rfind(b"\n")
    if newline >= 0:
        return newline + 1
    # No \n at all: a lone \r ends a line only when it is not the last byte (a \n may follow it in the next read).
    carriage = data.rfind(b"\r", 0, len(data) - 1)
    return carriage + 1 if carriage >= 0 else -1


def ascii_compatible(encoding: str) -> bool:
    """Whether line breaks, delimiters and quotes are the same single bytes as in ASCII (utf-8, cp1252; not utf-16)."""
    try:
        return ASCII_PROBE.encode(encoding) == ASCII_PROBE.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def looks_like_cp1252(raw: bytes) -> bool:
    """A line that is not UTF-8 but reads as cp1252 text: no valid multi-byte UTF-8 in it, and outside ASCII only
    letters and everyday symbols. An undefined byte, a control character, a rare sign or 0xFF ("ÿ", the classic
    filler byte) means damaged bytes instead. No heuristic tells every case apart; either way the line is named."""
    if any(ord(char) > 127 and char != "\ufffd" for char in raw.decode("utf-8", "replace")):
        return False
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    return all((char.isalpha() and char != "ÿ") or char in CP1252_SYMBOLS for char in text if ord(char) > 127)


class DecodingStream(io.RawIOBase):
    """Readable binary stream of UTF-8 bytes for pandas (pass encoding="utf-8"), from a file in `encoding`.

    `events` lists, in line order, the lines decoded with a fallback; `window` keeps the decoded lines when
    `keep_lines` (the reader releases them as it goes). A codec whose line breaks are not ASCII bytes (utf-16) is
    decoded incrementally and strictly: an invalid byte there raises UnicodeDecodeError, as before.
    """

    def __init__(self, path: Path, encoding: str, *, keep_lines: bool = True) -> None:
        super().__init__()
        self._raw: IO[bytes] = path.open("rb")
        codec = codecs.lookup(encoding).name
        self._utf8 = codec in UTF8_CODECS
        # The BOM is stripped once at the start: utf-8-sig would strip U+FEFF at the start of every block.
        self._codec = "utf-8" if self._utf8 else codec
        self._bytewise = ascii_compatible(self._codec)
        self._incremental = None if self._bytewise else codecs.getincrementaldecoder(self._codec)("strict")
        self._label = "UTF-8" if self._utf8 else self._codec
        self._pending = b""
        self._pending_text = ""
        self._at_start = True
        self._eof = False
        self._keep = keep_lines
        self.next_line = 1
        self.events: deque[DecodeEvent] = deque()
        self.window = _Window()

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        while True:
            piece = self._next_piece()
            if piece is None:
                return b""
            if piece:
                return piece

    def close(self) -> None:
        self._raw.close()
        super().close()

    def take_events(self, before_line: int) -> list[DecodeEvent]:
        """The events of lines before `before_line`, removed from the stream."""
        taken = []
        while self.events and self.events[0].line < before_line:
            taken.append(self.events.popleft())
        return taken

    # -- decoding ---------------------------------------------------------------------------------------------

    def _next_piece(self) -> bytes | None:
        """UTF-8 bytes of the next whole lines; b"" when more must be read first; None at the end of the file."""
        if self._eof and not self._pending and not self._pending_text:
            return None
        chunk = self._raw.read(READ_SIZE)
        self._eof = not chunk
        if self._at_start:
            # A regular file's first read holds the whole BOM (READ_SIZE bytes or the whole file).
            self._at_start = False
            if self._utf8 and chunk.startswith(UTF8_BOM):
                chunk = chunk[len(UTF8_BOM):]
        if self._incremental is not None:
            return self._next_text_piece(chunk)
        data = self._pending + chunk
        cut = _cut(data, self._eof)
        if cut < 0:
            self._pending = data
            return b""
        piece, self._pending = data[:cut], data[cut:]
        if not piece:
            return None if self._eof else b""
        text, out = self._decode_lines(piece)
        self._record(text, _lines_in(piece))
        return out

    def _next_text_piece(self, chunk: bytes) -> bytes | None:
        assert self._incremental is not None
        text = self._pending_text + self._incremental.decode(chunk, final=self._eof)
        if self._eof:
            piece, self._pending_text = text, ""
        else:
            newline = max(text.rfind("\n"), text.rfind("\r", 0, len(text) - 1))
            piece, self._pending_text = (text[: newline + 1], text[newline + 1:]) if newline >= 0 else ("", text)
        if not piece:
            return None if self._eof else b""
        self._record(piece, _lines_in(piece))
        return piece.encode("utf-8")

    def _decode_lines(self, piece: bytes) -> tuple[str, bytes]:
        """The text of whole lines and their UTF-8 bytes: one strict decode in the usual case, else line by line."""
        try:
            text = piece.decode(self._codec)
        except UnicodeDecodeError:
            pass
        else:
            return text, piece if self._utf8 else text.encode("utf-8")
        texts = []
        for offset, raw in enumerate(piece.splitlines(keepends=True)):
            texts.append(self._decode_line(raw, self.next_line + offset))
        text = "".join(texts)
        return text, text.encode("utf-8")

    def _decode_line(self, raw: bytes, line: int) -> str:
        try:
            return raw.decode(self._codec)
        except UnicodeDecodeError:
            pass
        if self._utf8 and looks_like_cp1252(raw):
            self.events.append(DecodeEvent(line, "not valid UTF-8; read as Windows-1252 (cp1252) text"))
            return raw.decode("cp1252")
        self.events.append(DecodeEvent(line, f"invalid {self._label} bytes replaced with U+FFFD; the rest of the line is read"))
        return raw.decode(self._codec, "replace")

    def _record(self, text: str, lines: int) -> None:
        if self._keep:
            self.window.add(_Block(self.next_line, lines, text))
        self.next_line += lines
