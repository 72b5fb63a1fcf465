"""Access: logins, sessions, the active location, set-up links and the users of a location."""
