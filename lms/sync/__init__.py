"""Calendar sync with Canvas (appointment groups) and Moodle (user calendar events)."""
