"""Courses, their members and announcements."""
