"""Pseudonymous study codes: centre + sequence + check character, e.g. ``C04-0123-K``.

The check character catches the typing errors people make when copying a code from a
card or a phone: any single wrong character and any swap of two neighbours. Sequences
1-9999 are written with four digits (every code handed out so far keeps its form); a
centre's 10,000th participant gets five (``C04-10000-F``), up to ``MAX_SEQUENCE``. Both
properties still hold with five digits: the weights stay below the modulus, 23.
"""

from __future__ import annotations

import re

ALPHABET = "ABCDEFGHJKLMNPQRSTVWXYZ"  # 23 letters, no I/O/U to avoid look-alikes
_VALUES = {c: i for i, c in enumerate("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ")}
CODE_PATTERN = re.compile(r"^(C\d{2,3})-(\d{4}|[1-9]\d{4})-([A-Z])$")
MAX_SEQUENCE = 99_999


def check_character(body: str) -> str:
    """Weighted sum modulo 23 (a prime) over the characters of centre + sequence."""
    total = sum((i + 1) * _VALUES[c] for i, c in enumerate(body.upper()))
    return ALPHABET[total % len(ALPHABET)]


def make_code(centre_code: str, seq: int) -> str:
    if not 1 <= seq <= MAX_SEQUENCE:
        raise ValueError(f"sequence {seq} out of range 1..{MAX_SEQUENCE}")
    digits = f"{seq:04d}"
    return f"{centre_code}-{digits}-{check_character(centre_code + digits)}"


def is_valid_code(code: str) -> bool:
    """True when the code is well formed and its check character matches."""
    match = CODE_PATTERN.match(code.strip().upper())
    if not match:
        return False
    centre, seq, check = match.groups()
    return check_character(centre + seq) == check


def normalise_code(code: str) -> str:
    return code.strip().upper()


def compact(text: str) -> str:
    """A code as people type it, reduced for comparison: upper case, letters and digits only
    (``c04 0123k`` and ``C04-0123-K`` are the same)."""
    return "".join(ch for ch in text.upper() if ch.isalnum())


def _as_code(packed: str) -> str | None:
    """The valid code written ``packed`` (no dashes), or None. The centre has two or three
    digits and the sequence four or five, so both readings are tried."""
    for centre_digits in (2, 3):
        centre, rest = packed[: 1 + centre_digits], packed[1 + centre_digits:]
        code = f"{centre}-{rest[:-1]}-{rest[-1:]}"
        if is_valid_code(code):
            return code
    return None


def likely_codes(text: str) -> list[str]:
    """Valid codes one typing slip away from ``text`` when ``text`` itself fails its check
    character: one character replaced, or two neighbours swapped (the slips the check
    character is built to catch). Empty when ``text`` is valid or not code-shaped."""
    packed = compact(text)
    if not packed.startswith("C") or not 8 <= len(packed) <= 10 or _as_code(packed):
        return []
    found: set[str] = set()
    for i in range(1, len(packed)):
        options = ALPHABET if i == len(packed) - 1 else "0123456789"
        for ch in options:
            if ch != packed[i]:
                code = _as_code(packed[:i] + ch + packed[i + 1:])
                if code:
                    found.add(code)
        if i + 1 < len(packed) and packed[i] != packed[i + 1]:
            code = _as_code(packed[:i] + packed[i + 1] + packed[i] + packed[i + 2:])
            if code:
                found.add(code)
    return sorted(found)


def search_codes(query: str, codes: list[str]) -> tuple[list[str], list[str]]:
    """(codes matching ``query``, suggestions) among ``codes``.

    A code matches when the query is part of it, ignoring case, spaces and dashes, so
    ``0123`` or ``c04-0123`` find ``C04-0123-K``. When nothing matches and the query is a
    whole code whose check character says one character is wrong, the suggestions are the
    listed codes it could have been meant as."""
    wanted = compact(query)
    if not wanted:
        return list(codes), []
    matches = [code for code in codes if wanted in compact(code)]
    if matches:
        return matches, []
    listed = set(codes)
    return [], [code for code in likely_codes(wanted) if code in listed]
