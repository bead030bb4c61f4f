"""Which passwords are accepted, following NIST SP 800-63B-4 (section 3.1.1.2).

What the guideline asks of a verifier, and how it is met here:

* at least 15 characters for a password that is the only factor (sign-in here is one
  factor), and at least 64 allowed: ``MIN_LENGTH`` and ``MAX_LENGTH``; every printable
  character, spaces and any Unicode accepted, nothing truncated;
* no composition rules (no "one digit, one capital"), no periodic changes;
* refuse passwords that are commonly used, expected or compromised, and those built from
  context-specific words (the service's name, the username): ``zxcvbn`` (Dropbox's
  strength estimator, a well-kept library with lists of common passwords, names, words
  and keyboard patterns) must rate the password at least ``MIN_SCORE`` ("safely
  unguessable") with the username, the person's name, their centre and the study's words
  as context, and must still do so once those words are taken out, so that "C04 worker
  password" or "outsider-aerli-2026" are refused however long they are.

Refusals say what to do instead: a few unrelated words are easy to remember and strong.
Pure: the services pass the context in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from zxcvbn import zxcvbn

from cohort.errors import CohortError
from cohort.messages import msg

MIN_LENGTH = 15
MAX_LENGTH = 200
#: zxcvbn's score: 3 is "safely unguessable: moderate protection from offline attack".
MIN_SCORE = 3
#: zxcvbn's own limit (longer passwords are rated on their first 72 characters, which
#: can only make the rating stricter).
RATED_LENGTH = 72
STUDY_WORDS = ("outsider", "aerli", "anrs", "cohort", "cohorte", "study", "etude", "étude",
               "harm reduction", "reduction", "risques", "injection", "injecting", "outreach",
               "password", "motdepasse")
_SPLIT = re.compile(r"[\s._@-]+")


class WeakPassword(CohortError):
    """A password the guideline says to refuse; the message says why and what to do."""


def context_words(*texts: str | None) -> list[str]:
    """The words of the username, names and centre, and the study's, lower-cased."""
    words: set[str] = set(STUDY_WORDS)
    for text in texts:
        if not text:
            continue
        lowered = text.strip().lower()
        words.add(lowered)
        words.update(part for part in _SPLIT.split(lowered) if len(part) >= 3)
    return sorted(words, key=len, reverse=True)


def check_password(password: str, *, context: Iterable[str] = ()) -> None:
    """Refuse (``WeakPassword``) a password the guideline says to refuse."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(msg("password.too_short", min=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise WeakPassword(msg("password.too_long", max=MAX_LENGTH))
    words = list(context) or context_words()
    rated = zxcvbn(password[:RATED_LENGTH], user_inputs=words)
    if rated["score"] < MIN_SCORE:
        warning = rated["feedback"].get("warning")
        # zxcvbn's own warning is English: kept as a parameter (issue 14 may drop it).
        raise WeakPassword(msg("password.guessable", warning=warning.rstrip(".").lower())
                           if warning else msg("password.guessable.common"))
    rest = password.lower()
    for word in words:
        rest = rest.replace(word, " ")
    if rest != password.lower() and zxcvbn(rest[:RATED_LENGTH])["score"] < MIN_SCORE:
        raise WeakPassword(msg("password.built_on_names"))
