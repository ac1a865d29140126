from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from personas.uploads import validate_upload
from smarketing.errors import InvalidInput


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("guide.pdf", b"%PDF-1.7 ..."),
        ("shot.png", b"\x89PNG\r\n\x1a\n...."),
        ("clip.mp4", b"\x00\x00\x00\x18ftypmp42...."),
        ("deck.pptx", b"PK\x03\x04...."),
        ("notes.md", b"# Objection handling\n"),
    ],
)
def test_accepted_files(name, data):
    assert validate_upload(SimpleUploadedFile(name, data)) == name


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("setup.exe", b"MZ\x90\x00", "not accepted"),
        ("guide.pdf", b"MZ\x90\x00 windows program", "program or script"),
        ("guide.pdf", b"\x7fELF\x02\x01", "program or script"),
        ("notes.txt", b"#!/bin/sh\nrm -rf /", "program or script"),
        ("guide.pdf", b"<html>not a pdf</html>", "does not match"),
        ("clip.mp4", b"\x00\x00\x00\x18moov", "not an MP4"),
        ("notes.txt", b"a\x00b", "not a text file"),
        ("archive", b"%PDF-", "not accepted"),
    ],
)
def test_refused_files(name, data, message):
    with pytest.raises(InvalidInput, match=message) as exc:
        validate_upload(SimpleUploadedFile(name, data))
    assert exc.value.field == "file"


def test_oversized_file_is_refused(settings):
    settings.CONTENT_MAX_UPLOAD_MB = 1
    with pytest.raises(InvalidInput, match="limit is 1 MB"):
        validate_upload(SimpleUploadedFile("big.pdf", b"%PDF-" + b"0" * (1024 * 1024)))
