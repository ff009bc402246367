"""Model cards: which Markdown files describe a model, and which model files each names.

A card is a `MODEL_CARD.md` (or `model_card.md`, `MODELCARD.md`) anywhere in the
repository, or a `README.md` with a "Model card" heading. A card names a model file when
its text contains the file's repository path or its file name. Cards are read as text;
nothing in them is executed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from mlgate.repo import Repo, read_text

CARD_NAMES = ("MODEL_CARD.md", "model_card.md", "MODELCARD.md", "README.md")
MAX_SECTION_CHARS = 4000


@dataclass(frozen=True)
class ModelCard:
    path: str
    sections: Mapping[str, str]  # lower-cased heading -> text under it
    text: str

    def names(self, rel: str) -> bool:
        """Whether the card names the file (its repository path or its file name)."""
        return rel in self.text or PurePosixPath(rel).name in self.text


def find_cards(repo: Repo) -> list[ModelCard]:
    """Model cards: MODEL_CARD.md (any directory) and READMEs with a "Model card" heading;
    shallowest first."""
    cards = []
    named = [rel for rel in repo.files if rel.rpartition("/")[2] in CARD_NAMES]
    for rel in sorted(named, key=lambda r: (r.count("/"), r)):
        name = rel.rpartition("/")[2]
        text = read_text(repo.root, rel)
        if name.lower() == "readme.md" and not _has_card_heading(text):
            continue
        cards.append(ModelCard(rel, _sections(text), text))
    return cards


def _has_card_heading(text: str) -> bool:
    from mlgate.gates.quality import headings  # noqa: PLC0415 (gates import this module)

    return any("model card" in title.lower() for _, title, _ in headings(text))


def _sections(text: str) -> dict[str, str]:
    from mlgate.gates.quality import headings  # noqa: PLC0415 (gates import this module)

    lines = text.splitlines()
    found = headings(text)
    sections: dict[str, str] = {}
    for position, (level, title, start) in enumerate(found):
        end = next((line for lv, _, line in found[position + 1 :] if lv <= level), len(lines))
        body = " ".join(" ".join(lines[start + 1 : end]).split())
        sections.setdefault(title.lower(), body[:MAX_SECTION_CHARS])
    return sections


def card_for(cards: Sequence[ModelCard], rel: str) -> ModelCard | None:
    """The card naming the file, else the one in its directory, else the root's."""
    named = next((c for c in cards if c.names(rel)), None)
    if named is not None:
        return named
    folder = str(PurePosixPath(rel).parent)
    same = next((c for c in cards if str(PurePosixPath(c.path).parent) == folder), None)
    return same or next((c for c in cards if "/" not in c.path), None)
