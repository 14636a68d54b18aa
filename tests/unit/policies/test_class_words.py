"""Every data class has words for refusals and the banner, so a new class cannot fail a refusal."""

from __future__ import annotations

from policies.scope import CLASS_WORDS, DataClass


def test_every_data_class_has_words():
    assert set(CLASS_WORDS) == set(DataClass)
