"""Checks on uploaded content files: size, allowed type, and that the bytes are what the name says.

The declared content type comes from the browser and proves nothing, so the file's first
bytes are checked against its extension, and anything that looks like a program is refused
whatever it is called.
"""

from __future__ import annotations

from pathlib import PurePath

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from smarketing.errors import InvalidInput

ZIP = (b"PK\x03\x04",)
# extension -> (accepted leading bytes, or None for text files)
ALLOWED: dict[str, tuple[bytes, ...] | None] = {
    ".pdf": (b"%PDF-",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".gif": (b"GIF87a", b"GIF89a"),
    ".webp": (b"RIFF",),
    ".mp4": (),  # checked by its "ftyp" box below
    ".webm": (b"\x1a\x45\xdf\xa3",),
    ".docx": ZIP,
    ".pptx": ZIP,
    ".xlsx": ZIP,
    ".txt": None,
    ".md": None,
    ".csv": None,
}
EXECUTABLE_SIGNATURES = (
    b"MZ",  # Windows PE
    b"\x7fELF",  # Linux
    b"\xfe\xed\xfa",  # Mach-O
    b"\xcf\xfa\xed\xfe",
    b"\xca\xfe\xba\xbe",  # Mach-O fat / Java class
    b"#!",  # scripts
)


def validate_upload(upload: UploadedFile) -> str:
    """Refuse what must not be stored; return the cleaned original file name."""
    name = PurePath(upload.name or "").name[:200]
    limit_mb = settings.CONTENT_MAX_UPLOAD_MB
    if upload.size > limit_mb * 1024 * 1024:
        raise InvalidInput(f"The file is {upload.size / 1048576:.1f} MB; the limit is {limit_mb} MB.", field="file")
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED:
        allowed = ", ".join(sorted(ALLOWED))
        raise InvalidInput(f"“{extension or name}” files are not accepted. Allowed: {allowed}.", field="file")
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    if head.startswith(EXECUTABLE_SIGNATURES):
        raise InvalidInput("This file is a program or script, whatever its name says; it was refused.", field="file")
    expected = ALLOWED[extension]
    if expected is None:
        if b"\x00" in head:
            raise InvalidInput(f"This is not a text file, although it is named {extension}.", field="file")
    elif extension == ".mp4":
        if head[4:8] != b"ftyp":
            raise InvalidInput("This file is not an MP4 video, although it is named .mp4.", field="file")
    elif not head.startswith(expected):
        raise InvalidInput(f"The file's content does not match its {extension} name.", field="file")
    return name
