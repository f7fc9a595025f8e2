"""How a prescription's quantity reads: "30 capsules", "1 tablet", "15 g", "120 mL".

The formulary lists dose forms ("capsule", "cream", "orally disintegrating tablet"); the
quantity of a countable form counts units of it, while semi-solids are dispensed by weight
and liquids by volume, whose units never take a plural."""

# Dispensed by weight (grams) or by volume (millilitres): the last word of the dose form.
BY_WEIGHT = frozenset({"cream", "gel", "ointment", "paste", "foam", "powder"})
BY_VOLUME = frozenset({"lotion", "solution", "suspension", "shampoo", "liquid", "syrup", "elixir"})
GRAMS = "g"
MILLILITRES = "mL"
# Units of measure an administrator may have typed as a dose form: never pluralized.
MEASURES = frozenset({"g", "mg", "mcg", "kg", "ml", "l"})
# Countable forms whose plural is not the form plus "s".
IRREGULAR = {"patch": "patches", "suppository": "suppositories", "lozenge": "lozenges"}


def dispense_unit(dose_form: str) -> str:
    """The unit the quantity of this dose form counts, in the singular."""
    form = " ".join(dose_form.split())
    last = form.rsplit(" ", 1)[-1].lower()
    if last in BY_WEIGHT:
        return GRAMS
    if last in BY_VOLUME:
        return MILLILITRES
    return form


def is_measure(unit: str) -> bool:
    return unit.lower() in MEASURES


def _plural_word(word: str) -> str:
    lower = word.lower()
    if lower in IRREGULAR:
        return IRREGULAR[lower]
    if lower.endswith(("s", "x", "ch", "sh")):
        return f"{word}es" if not lower.endswith("s") else word
    if lower.endswith("y") and lower[-2:-1] not in {"a", "e", "i", "o", "u"}:
        return f"{word[:-1]}ies"
    return f"{word}s"


def plural_unit(unit: str, quantity: int) -> str:
    """ "tablet" -> "tablets"; "delayed-release capsule" -> "delayed-release capsules";
    "g" and "mL" stay as they are."""
    if quantity == 1 or is_measure(unit) or not unit:
        return unit
    head, _, last = unit.rpartition(" ")
    return f"{head} {_plural_word(last)}" if head else _plural_word(last)


def quantity_text(quantity: int, dose_form: str) -> str:
    """e.g. quantity_text(30, "capsule") == "30 capsules"; (15, "cream") == "15 g"."""
    return f"{quantity} {plural_unit(dispense_unit(dose_form), quantity)}"
