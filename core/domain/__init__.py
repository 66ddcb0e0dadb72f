"""Pure domain rules: plain Python with no database and no web framework."""
