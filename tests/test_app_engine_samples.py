"""The two App Engine documentation samples for sending mail, run against mailgui with the import line changed.

Their calls, arguments and order are those of the "Sending mail" page of App Engine's Python documentation (the
sign-up confirmation handler, which checks the address with ``mail.is_email_valid`` and sends with positional
``mail.send_mail``, and the ``EmailMessage`` example, which sets ``to`` and ``body`` after construction). The
samples' web framework (webapp2) and datastore are replaced by plain functions: only the Mail API calls are
under test. Written here rather than copied from Google's samples repository, whose code stays out of this one.
"""

from __future__ import annotations

from mailgui import mail  # was: from google.appengine.api import mail
from mailgui.queue import Queue

APP_ID = "example"


def sign_up(user_address: str, confirmation_url: str) -> str:
    """The sign-up confirmation handler's Mail API part: show the form again for an invalid address."""
    if not mail.is_email_valid(user_address):
        return "form"
    sender_address = f"Example.com Support <example@{APP_ID}.appspotmail.com>"
    subject = "Confirm your registration"
    body = f"""Thank you for creating an account!
Please confirm your email address by clicking on the link below:

{confirmation_url}
"""
    mail.send_mail(sender_address, user_address, subject, body)
    return f"An email has been sent to {user_address}."


def send_approved_mail(sender_address: str) -> None:
    """The EmailMessage example: built in steps, then sent."""
    message = mail.EmailMessage(sender=sender_address, subject="Your account has been approved")
    message.to = "Albert Johnson <Albert.Johnson@example.com>"
    message.body = """Dear Albert:

Your example.com account has been approved.  You can now visit
http://www.example.com/ and sign in using your Google Account to
access new features.

Please let us know if you have any questions.

The example.com Team
"""
    message.send()


def test_the_sign_up_sample_queues_one_confirmation_to_the_user(queue: Queue) -> None:
    queue.add_sender(f"@{APP_ID}.appspotmail.com")
    url = "https://example.com/user/confirm?code=abc123"
    assert sign_up("new.user@example.org", url) == "An email has been sent to new.user@example.org."
    (summary,) = queue.list_messages()
    assert summary.sender == f"example@{APP_ID}.appspotmail.com"
    assert [r.address for r in summary.recipients] == ["new.user@example.org"]
    assert summary.subject == "Confirm your registration"
    assert url.encode() in queue.get_message(summary.id).raw
    assert b'From: "Example.com Support" <example@example.appspotmail.com>' in queue.get_message(summary.id).raw


def test_the_sign_up_sample_queues_nothing_for_an_invalid_address(queue: Queue) -> None:
    queue.add_sender(f"@{APP_ID}.appspotmail.com")
    assert sign_up("not an address", "https://example.com/") == "form"
    assert sign_up("", "https://example.com/") == "form"
    assert queue.count_messages() == 0


def test_the_email_message_sample_queues_the_approval_to_albert(queue: Queue) -> None:
    queue.add_sender(f"@{APP_ID}.appspotmail.com")
    send_approved_mail(f"example@{APP_ID}.appspotmail.com")
    (summary,) = queue.list_messages()
    assert [r.address for r in summary.recipients] == ["Albert.Johnson@example.com"]
    assert summary.subject == "Your account has been approved"
    raw = queue.get_message(summary.id).raw
    assert b"To: Albert Johnson <Albert.Johnson@example.com>" in raw
    assert b"Dear Albert:" in raw
