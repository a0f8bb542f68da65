"""What a form's one-time token made: the same form sent twice makes one thing (ADR
"a form sent twice makes one thing")."""
