"""The protobuf wire format (also leveldb's varints): messages decoded to their fields."""

from __future__ import annotations


def varint(data: bytes | memoryview, position: int) -> tuple[int, int]:
    """The base-128 varint at `position`, and the position after it."""
    result = shift = 0
    while True:
        if position >= len(data) or shift > 63:
            raise ValueError("bad varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7


def fields(message: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) of a protobuf message: ints for varint and fixed fields, bytes
    (views into `message`, never copies of a large payload) for length-delimited ones;
    ValueError when `message` is not a message."""
    found: list[tuple[int, int | bytes]] = []
    data = memoryview(message)
    position = 0
    while position < len(data):
        key, position = varint(data, position)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field 0")
        if wire == 0:
            value, position = varint(data, position)
            found.append((number, value))
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if position + width > len(data):
                raise ValueError("truncated")
            found.append((number, int.from_bytes(data[position: position + width], "little")))
            position += width
        elif wire == 2:
            length, position = varint(data, position)
            if position + length > len(data):
                raise ValueError("truncated")
            found.append((number, data[position: position + length]))  # type: ignore[arg-type]
            position += length
        else:
            raise ValueError("unsupported wire type")
    return found
