"""Writes data/notes.jsonl: clearly synthetic 'clinic notes' that stand in for confidential data.

Every record is generated from fixed templates and a fixed seed; no real person or note is in it.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

SEED = 20260115
RECORDS = 400
FIRST = ["Avery", "Jordan", "Morgan", "Riley", "Quinn", "Harper", "Rowan", "Emerson", "Sawyer",
         "Finley", "Reese", "Dakota", "Hayden", "Marlowe", "Peyton", "Sutton"]
LAST = ["Fakename", "Testwell", "Samplesen", "Mockridge", "Placeholt", "Dummington", "Synthby",
        "Exampleton", "Nullsworth", "Fixturo"]
TOPICS = {
    "cardiology": (
        ["intermittent chest tightness", "palpitations after climbing stairs",
         "shortness of breath when lying flat", "ankle swelling by the evening"],
        ["irregular rhythm on auscultation", "blood pressure above target",
         "a soft systolic murmur", "mild bilateral pitting oedema"],
        ["order an echocardiogram", "start a low dose beta blocker",
         "arrange a 24 hour rhythm monitor", "review salt intake and recheck in two weeks"],
    ),
    "respiratory": (
        ["a dry cough that worsens at night", "wheezing during cold weather",
         "breathlessness on exertion", "a productive cough with green sputum"],
        ["scattered expiratory wheeze", "reduced air entry at the left base",
         "oxygen saturation of ninety four percent", "coarse crackles on the right"],
        ["trial an inhaled corticosteroid", "request a chest radiograph",
         "spirometry before and after bronchodilator", "a five day course of antibiotics"],
    ),
    "dermatology": (
        ["an itchy rash on both forearms", "a changing mole on the upper back",
         "dry cracked skin on the hands", "recurrent blisters around the mouth"],
        ["erythematous plaques with fine scale", "an asymmetric pigmented lesion",
         "lichenified patches in the flexures", "grouped vesicles on an erythematous base"],
        ["emollients and a mild topical steroid", "refer for dermoscopy and excision",
         "patch testing for contact allergens", "oral antiviral at the first sign of symptoms"],
    ),
    "orthopedics": (
        ["knee pain after a fall while running", "stiffness in the lower back each morning",
         "shoulder pain when reaching overhead", "a swollen ankle after a sports injury"],
        ["tenderness along the medial joint line", "reduced lumbar flexion",
         "a painful arc between sixty and one hundred twenty degrees",
         "bruising over the lateral malleolus"],
        ["physiotherapy twice weekly for six weeks", "an MRI of the affected joint",
         "simple analgesia and activity modification", "a supportive brace and review"],
    ),
}


def make_record(index: int, rng: random.Random) -> dict[str, str]:
    label = rng.choice(sorted(TOPICS))
    complaints, findings, plans = TOPICS[label]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    days = rng.randint(2, 30)
    note = (
        f"Patient reports {rng.choice(complaints)} for {days} days. "
        f"Examination shows {rng.choice(findings)}. "
        f"Plan: {rng.choice(plans)}; follow up in {rng.randint(1, 8)} weeks."
    )
    return {
        "id": f"rec-{index:05d}",
        "patient_name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}{rng.randint(10, 99)}@example.invalid",
        "mrn": f"MRN-{rng.randint(10_000_000, 99_999_999)}",
        "note": note,
        "label": label,
    }


def main() -> None:
    rng = random.Random(SEED)
    out = Path(__file__).parent / "data" / "notes.jsonl"
    out.parent.mkdir(exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for index in range(RECORDS):
            handle.write(json.dumps(make_record(index, rng)) + "\n")
    print(f"wrote {RECORDS} synthetic records to {out}")


if __name__ == "__main__":
    main()
