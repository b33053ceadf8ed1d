"""Users: the directory, profiles, avatars, personal API keys and the audit log reader."""
