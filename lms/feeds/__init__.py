"""Private, revocable calendar feeds: a supporter's sessions and a student's bookings."""
