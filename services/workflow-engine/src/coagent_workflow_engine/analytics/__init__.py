"""Course analytics: reports written by the system analytics agent from rooms' recent history."""
