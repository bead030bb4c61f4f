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
