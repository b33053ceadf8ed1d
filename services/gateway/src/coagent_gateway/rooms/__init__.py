"""Rooms of a course, room assignment and the room access check other routes rely on."""
