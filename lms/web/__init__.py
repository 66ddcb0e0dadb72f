"""The student booking page that an LTI launch opens: server-rendered, accessible, phone-sized."""
