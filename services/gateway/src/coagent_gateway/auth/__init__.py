"""Authentication: passwords, sessions (access + rotating refresh tokens), throttling, audit."""
