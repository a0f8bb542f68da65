"""The audit trail: every change a person makes (through the API, the dashboard or the
command line) recorded with the key that made it, listed per object."""
