"""A launched student's sealed session: opaque, tamper-proof and short-lived."""

from __future__ import annotations

from datetime import timedelta

from core.runtime import runtime
from lms.student import SESSION_TTL, Student, seal, subject_of, unseal

STUDENT = Student(
    program="acme",
    subject=subject_of("https://canvas.example.edu", "a6f1-opaque"),
    roles=("http://purl.imsglobal.org/vocab/lis/v2/membership#Learner",),
    locale="en-GB",
)


def test_a_sealed_student_comes_back_whole_and_hides_the_subject(app):
    token = seal(runtime(app), STUDENT)
    assert "a6f1-opaque" not in token and "canvas" not in token
    assert unseal(runtime(app), token) == STUDENT
    assert not STUDENT.is_instructor


def test_a_tampered_foreign_or_old_token_is_refused(app, clock):
    token = seal(runtime(app), STUDENT)
    assert unseal(runtime(app), token[:-4] + "AAAA") is None
    assert unseal(runtime(app), "not a token") is None
    clock.advance(seconds=SESSION_TTL.total_seconds() - 1)
    assert unseal(runtime(app), token) == STUDENT
    clock.advance(seconds=2)
    assert unseal(runtime(app), token) is None


def test_instructors_and_admins_are_recognised_by_role():
    for role in (
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor",
        "http://purl.imsglobal.org/vocab/lis/v2/institution/person#Administrator",
    ):
        assert Student("acme", "x y", roles=(role,)).is_instructor
    assert timedelta(hours=2) == SESSION_TTL
