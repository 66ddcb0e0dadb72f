"""`peerline accounts …`: made, listed, given a password, unlocked, refused with a clear line."""

from __future__ import annotations

from core.cli import main
from tests.console.conftest import EMAILS, PASSWORD, Console


def run(console: Console, *args: str, given: str | None = None):
    return console.app.test_cli_runner().invoke(main, ["accounts", *args], input=given)


def test_create_list_set_password_and_unlock(console):
    made = run(
        console, "create", "--email", "Pat@Acme.test", "--name", "Pat", "--role", "coordinator",
        "--program", "acme", "--password-stdin", given="a long enough password\n",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    assert made.output.strip() == "created coordinator account pat@acme.test"
    sso = run(
        console, "create", "--email", "sam@acme.test", "--name", "Sam", "--role", "supporter",
        "--program", "acme", "--supporter", "Birch", "--sso-only",
    )  # fmt: skip
    assert sso.exit_code == 0, sso.output
    listed = run(console, "list").output.splitlines()
    assert "pat@acme.test\tcoordinator\tacme\tpassword+sso (by e-mail)\tactive" in listed
    assert "sam@acme.test\tsupporter\tacme\tsso (by e-mail)\tactive" in listed
    operator = f"{EMAILS['operator']}\tadmin\t(all programs)\tpassword+sso (by e-mail)\tactive"
    assert operator in listed
    for _ in range(5):
        console.post(console.client(), "/console/sign-in", email="pat@acme.test", password="no")
    locked = "pat@acme.test\tcoordinator\tacme\tpassword+sso (by e-mail)\tlocked"
    assert locked in run(console, "list").output
    assert run(console, "unlock", "--email", "pat@acme.test").output.strip() == (
        "unlocked pat@acme.test"
    )
    changed = run(
        console, "set-password", "--email", "pat@acme.test", "--password-stdin",
        given="a different long password\n",
    )  # fmt: skip
    assert changed.exit_code == 0
    signed = console.post(
        console.client(), "/console/sign-in", email="pat@acme.test",
        password="a different long password",
    )  # fmt: skip
    assert signed.status_code == 302


def test_refusals_are_one_clear_line(console):
    short = run(
        console, "create", "--email", "x@acme.test", "--name", "X", "--role", "admin",
        "--program", "acme", "--password-stdin", given="short\n",
    )  # fmt: skip
    assert short.exit_code == 1 and "at least 12 characters" in short.output
    no_program = run(
        console, "create", "--email", "x@acme.test", "--name", "X", "--role", "coordinator",
        "--sso-only",
    )  # fmt: skip
    assert no_program.exit_code == 1 and "needs a program" in no_program.output
    taken = run(
        console, "create", "--email", EMAILS["admin"], "--name", "X", "--role", "admin",
        "--program", "acme", "--password-stdin", given=PASSWORD + "\n",
    )  # fmt: skip
    assert taken.exit_code == 1 and "exists" in taken.output
    unknown = run(console, "unlock", "--email", "nobody@acme.test")
    assert unknown.exit_code == 1 and "no account" in unknown.output
    assert "Traceback" not in short.output + no_program.output + taken.output
