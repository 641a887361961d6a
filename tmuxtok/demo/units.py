"""Byte and millisecond units shared by the planners and the writers."""

MIB = 1 << 20
SECOND = 1000
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
