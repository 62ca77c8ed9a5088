"""Domain primitives shared by every package: clock, events, bus, ids, time helpers."""
