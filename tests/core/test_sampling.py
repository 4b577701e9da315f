"""What a whole history shows a rehearsal: thread length, files, inline images, tables, code, media, notes, first author."""

from __future__ import annotations

from deskmigrate.core.model import Attachment, Contact, Conversation, Part
from deskmigrate.core.sampling import content_facts, profile_of


def part(n: int, html: str, *, kind: str = "contact", public: bool = True, files: list[Attachment] | None = None) -> Part:
    return Part(source_id=str(n), author_kind=kind, author_id="7", body_html=html, public=public, attachments=files or [])  # type: ignore[arg-type]


def test_the_facts_of_a_history() -> None:
    screenshot = Attachment(filename="a.png", url="https://x.example/a.png", inline=True)
    log = Attachment(filename="log.txt", url="https://x.example/log.txt")
    ticket = Conversation(source="zendesk", source_id="1", parts=[
        part(1, "<p>Hi</p><IMG src='x'>", kind="agent", files=[screenshot, log]),
        part(2, "<table><tr><td>1</td></tr></table><pre>code</pre>"),
        part(3, "<iframe src='https://video.example/1'></iframe>", kind="agent", public=False),
    ])
    facts = content_facts(ticket)
    assert (facts.parts, facts.attachments, facts.inline_images, facts.private_notes) == (3, 1, 1, 1)
    assert facts.tables and facts.code and facts.media and facts.first_author == "agent"


def test_a_file_source_profile_knows_the_requester() -> None:
    ticket = Conversation(source="csv", source_id="9", requester_id="c1", status="open", custom_fields={"Language": "de"},
                          parts=[part(1, "<p>x</p>")])
    inactive = Contact(source="csv", source_id="c1", email="A@x.example", active=False)
    profile = profile_of(ticket, inactive, requester_known=True)
    assert (profile.language, profile.requester_state, profile.requester_email) == ("de", "suspended", "A@x.example")
    assert profile_of(ticket, None, requester_known=False).requester_state == "deleted"
