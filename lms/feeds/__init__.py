"""Private, revocable calendar feeds: a supporter's sessions and a student's bookings."""

from lms.feeds.students import revoke_student_feed, student_feed_url

__all__ = ["revoke_student_feed", "student_feed_url"]
