"""Own firmware profile ("imu-fw"): control commands and the info characteristic.

Commands are written with response to the control characteristic. Each is one opcode byte
followed by fixed little-endian arguments (firmware_notes/control-opcodes.md):

    START     01 [u16 rate_hz] [u8 content mask: b0 acc, b1 gyro, b2 quat]
    STOP      02
    SET_RATE  03 [u16 rate_hz]
    TIME_SYNC 04 [u32 host token]      answered by a type-2 frame echoing the token
    IDENTIFY  05
    BUZZ      06 [u16 duration_ms] [u8 strength 0..100]
    TARE      07
    GET_INFO  08                       refreshes the info characteristic

The host (BLE transport) encodes, the virtual peripheral decodes; both share this module so
they cannot disagree about the bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

OP_START, OP_STOP, OP_SET_RATE, OP_TIME_SYNC = 0x01, 0x02, 0x03, 0x04
OP_IDENTIFY, OP_BUZZ, OP_TARE, OP_GET_INFO = 0x05, 0x06, 0x07, 0x08

CONTENT_ACC, CONTENT_GYRO, CONTENT_QUAT = 0x01, 0x02, 0x04
CONTENT_ALL = CONTENT_ACC | CONTENT_GYRO | CONTENT_QUAT
MAX_RATE_HZ = 1000  # one sample per ms is beyond any sensor we target; guards typos

# ATT application error codes the peripheral answers a bad control write with
ATT_ERROR_UNKNOWN_OPCODE = 0x80
ATT_ERROR_BAD_LENGTH = 0x81
ATT_ERROR_OUT_OF_RANGE = 0x82

# opcode -> (name, struct of the arguments, argument names)
_COMMANDS: dict[int, tuple[str, struct.Struct, tuple[str, ...]]] = {
    OP_START: ("START", struct.Struct("<HB"), ("rate_hz", "content_mask")),
    OP_STOP: ("STOP", struct.Struct("<"), ()),
    OP_SET_RATE: ("SET_RATE", struct.Struct("<H"), ("rate_hz",)),
    OP_TIME_SYNC: ("TIME_SYNC", struct.Struct("<I"), ("token",)),
    OP_IDENTIFY: ("IDENTIFY", struct.Struct("<"), ()),
    OP_BUZZ: ("BUZZ", struct.Struct("<HB"), ("duration_ms", "strength")),
    OP_TARE: ("TARE", struct.Struct("<"), ()),
    OP_GET_INFO: ("GET_INFO", struct.Struct("<"), ()),
}
COMMAND_NAMES = {op: spec[0] for op, spec in _COMMANDS.items()}
COMMAND_ARGS = {op: spec[2] for op, spec in _COMMANDS.items()}


class CommandError(ValueError):
    """A control command that cannot be encoded or decoded.

    `att_error` is the ATT error code a peripheral should answer the write with.
    """

    def __init__(self, message: str, att_error: int = ATT_ERROR_OUT_OF_RANGE):
        super().__init__(message)
        self.att_error = att_error


def _check_args(op: int, args: tuple[int, ...]) -> None:
    name, _, names = _COMMANDS[op]
    values = dict(zip(names, args))
    if "rate_hz" in values and not 1 <= values["rate_hz"] <= MAX_RATE_HZ:
        raise CommandError(f"{name}: rate {values['rate_hz']} Hz outside 1..{MAX_RATE_HZ}")
    if "content_mask" in values:
        mask = values["content_mask"]
        if mask == 0 or mask & ~CONTENT_ALL:
            raise CommandError(
                f"{name}: content mask 0x{mask:02x} must be a non-empty combination of "
                "0x01 acc, 0x02 gyro, 0x04 quat"
            )
    if "strength" in values and not 0 <= values["strength"] <= 100:
        raise CommandError(f"{name}: strength {values['strength']} outside 0..100")
    if "duration_ms" in values and not 1 <= values["duration_ms"] <= 0xFFFF:
        raise CommandError(f"{name}: duration {values['duration_ms']} ms outside 1..65535")
    if "token" in values and not 0 <= values["token"] <= 0xFFFFFFFF:
        raise CommandError(f"{name}: token {values['token']} does not fit in 32 bits")


def encode_command(op: int, *args: int) -> bytes:
    """Bytes of one control command, e.g. encode_command(OP_START, 100, CONTENT_ALL)."""
    if op not in _COMMANDS:
        raise CommandError(f"unknown control opcode 0x{op:02x}", ATT_ERROR_UNKNOWN_OPCODE)
    name, layout, names = _COMMANDS[op]
    if len(args) != len(names):
        wanted = ", ".join(names) or "no arguments"
        raise CommandError(f"{name} takes {wanted}; got {len(args)} argument(s)", ATT_ERROR_BAD_LENGTH)
    args = tuple(int(a) for a in args)
    _check_args(op, args)
    return bytes([op]) + layout.pack(*args)


def decode_command(data: bytes) -> tuple[int, tuple[int, ...]]:
    """(opcode, arguments) of a control write; raises CommandError naming the problem."""
    data = bytes(data)
    if not data:
        raise CommandError("empty control write", ATT_ERROR_BAD_LENGTH)
    op = data[0]
    if op not in _COMMANDS:
        raise CommandError(f"unknown control opcode 0x{op:02x}", ATT_ERROR_UNKNOWN_OPCODE)
    name, layout, _ = _COMMANDS[op]
    if len(data) != 1 + layout.size:
        raise CommandError(
            f"{name} needs {1 + layout.size} bytes, got {len(data)}", ATT_ERROR_BAD_LENGTH
        )
    args = layout.unpack_from(data, 1)
    _check_args(op, args)
    return op, args


# Info characteristic (read): what the device is and what it is doing.
INFO = struct.Struct("<BBBBBHHBBB")
INFO_SIZE = INFO.size  # 12


@dataclass(frozen=True)
class DeviceInfo:
    protocol_version: int = 1
    firmware: tuple[int, int, int] = (1, 0, 0)
    capabilities: int = CONTENT_ALL  # content the device can stream (content mask bits)
    max_rate_hz: int = 200
    rate_hz: int = 100
    content_mask: int = CONTENT_ALL
    streaming: bool = False
    has_motor: bool = True


def encode_info(info: DeviceInfo) -> bytes:
    major, minor, patch = info.firmware
    return INFO.pack(
        info.protocol_version, major, minor, patch, info.capabilities,
        info.max_rate_hz, info.rate_hz, info.content_mask, int(info.streaming), int(info.has_motor),
    )


def decode_info(data: bytes) -> DeviceInfo:
    data = bytes(data)
    if len(data) != INFO_SIZE:
        raise ValueError(f"info characteristic is {len(data)} bytes, expected {INFO_SIZE}")
    version, major, minor, patch, caps, max_rate, rate, mask, streaming, motor = INFO.unpack(data)
    return DeviceInfo(version, (major, minor, patch), caps, max_rate, rate, mask, bool(streaming), bool(motor))
