"""Generated aliases ("Blue Heron") that say nothing about the person behind them."""

from __future__ import annotations

import secrets

ADJECTIVES = (
    "Amber",
    "Blue",
    "Bright",
    "Calm",
    "Coral",
    "Cedar",
    "Clear",
    "Copper",
    "Crimson",
    "Dawn",
    "Golden",
    "Green",
    "Hazel",
    "Indigo",
    "Ivory",
    "Jade",
    "Kind",
    "Lilac",
    "Lunar",
    "Maple",
    "Misty",
    "Olive",
    "Opal",
    "Pearl",
    "Quiet",
    "Rain",
    "River",
    "Rose",
    "Sage",
    "Silver",
    "Sky",
    "Slate",
    "Snow",
    "Solar",
    "Steady",
    "Stone",
    "Sun",
    "Teal",
    "Velvet",
    "Warm",
)
ANIMALS = (
    "Albatross",
    "Badger",
    "Bear",
    "Beaver",
    "Crane",
    "Deer",
    "Dolphin",
    "Dove",
    "Falcon",
    "Finch",
    "Fox",
    "Gazelle",
    "Hare",
    "Hawk",
    "Heron",
    "Ibis",
    "Kestrel",
    "Kingfisher",
    "Koala",
    "Lark",
    "Lynx",
    "Marten",
    "Moose",
    "Orca",
    "Osprey",
    "Otter",
    "Owl",
    "Panda",
    "Pelican",
    "Puffin",
    "Raven",
    "Robin",
    "Salmon",
    "Seal",
    "Sparrow",
    "Swan",
    "Tern",
    "Turtle",
    "Whale",
    "Wren",
)


def new_alias(taken: set[str] | frozenset[str] = frozenset()) -> str:
    """A random 'Adjective Animal', avoiding the ones given when it can."""
    for _ in range(20):
        alias = f"{secrets.choice(ADJECTIVES)} {secrets.choice(ANIMALS)}"
        if alias not in taken:
            return alias
    return f"{secrets.choice(ADJECTIVES)} {secrets.choice(ANIMALS)} {secrets.randbelow(90) + 10}"
