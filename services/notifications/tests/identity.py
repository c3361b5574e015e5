"""The identity-leak search of the notification tests: a complainant's name, phone, address and story
as a test's intake would have sealed them, searched for in every message the tests send."""

from __future__ import annotations

NAME = "Zarnigar Vyomkesh Quillfeather"
PHONE = "9123487650"
ADDRESS = "House 7, Gali Nilgiri-Tarangpur"
STORY = "Her brother Ishvaranand threatens her"
SECRETS = (NAME, "Quillfeather", "Vyomkesh", PHONE, ADDRESS, "Nilgiri-Tarangpur", STORY, "Ishvaranand")


def hits(where: str, blob: str | bytes) -> list[str]:
    folded = blob.lower() if isinstance(blob, str) else blob.decode("utf-8", "replace").lower()
    return [f"{secret!r} in {where}" for secret in SECRETS if secret.lower() in folded]
