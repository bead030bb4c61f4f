"""Validate many questionnaire answer sets against the study dictionary; report sets/second.

Answer sets are generated with a seeded random generator and vary like field data: most are
complete and valid, some have blanks, out-of-range numbers, values in hidden fields, strings
with spaces, REDCap-style checkbox columns. Run: ``python bench/bench_validation.py --n 100000``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from forms import default_dictionary  # noqa: E402

YES_NO = ("share_syringe share_cooker share_filter share_water reuse_own_syringe swab_before "
          "swab_after rotate_sites inject_outdoors_hurry abscess cellulitis vein_damage "
          "missed_hit overdose hcv_test_ever hiv_test_ever oat_current").split()


def answer_set(rng: random.Random, m0: bool) -> dict[str, object]:
    answers: dict[str, object] = {name: rng.choice(["0", "1", "0", 1, 0, True])
                                  for name in YES_NO}
    answers["visit_date"] = f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    answers["inj_freq"] = str(rng.randint(1, 5))
    products = rng.sample(["1", "2", "3", "4", "5", "6", "7", "8"], rng.randint(1, 3))
    if rng.random() < 0.2:
        for code in products:
            answers[f"products___{code}"] = "1"
    else:
        answers["products"] = products
    if "8" in products:
        answers["products_other"] = " pregabalin "
    answers["inj_sites"] = rng.sample(["1", "2", "3", "4"], rng.randint(1, 2))
    answers["water_source"] = str(rng.randint(1, 4))
    answers["acidifier"] = rng.randint(1, 6)
    if answers["hcv_test_ever"] in ("1", 1, True) or rng.random() < 0.05:
        answers["hcv_last_result"] = str(rng.randint(1, 3))
    if answers["hiv_test_ever"] in ("1", 1, True):
        answers["hiv_last_result"] = str(rng.randint(1, 3))
    if answers["oat_current"] in ("1", 1, True):
        answers["oat_type"] = str(rng.randint(1, 3))
    answers["hr_services"] = rng.sample(["1", "2", "3", "4", "5", "6"], rng.randint(0, 3))
    if rng.random() < 0.1:
        answers["questionnaire_note"] = "Prefers evening visits."
    if rng.random() < 0.05:
        del answers[rng.choice(YES_NO)]
    if m0:
        answers |= {"housing": str(rng.randint(1, 6)), "income_source": str(rng.randint(1, 4)),
                    "education": str(rng.randint(1, 3)),
                    "years_injecting": str(rng.randint(0, 90)),
                    "age_first_injection": f" {rng.randint(12, 40)} ",
                    "prison_ever": rng.choice(["0", "1"])}
    return answers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100_000, help="answer sets to validate")
    parser.add_argument("--seed", type=int, default=20251122)
    args = parser.parse_args()
    dictionary = default_dictionary()
    rng = random.Random(args.seed)
    sets = [answer_set(rng, i % 3 == 0) for i in range(args.n)]
    forms_m0 = ["baseline", "questionnaire"]
    start = time.perf_counter()
    valid = 0
    for i, answers in enumerate(sets):
        if i % 3 == 0:
            result = dictionary.validate(forms_m0, answers, event="m0_arm_1")
        else:
            result = dictionary.validate("questionnaire", answers, event="m6_arm_1")
        valid += result.ok
    elapsed = time.perf_counter() - start
    rate = args.n / elapsed
    print(f"validated {args.n:,} answer sets in {elapsed:.2f} s "
          f"({valid / args.n:.0%} valid)")
    print(f"{rate:,.0f} sets/s, {1e6 / rate:.1f} µs/set")


if __name__ == "__main__":
    main()
