"""Labels are free names ('thoracic spine', 'knee (lateral)', 'a/p'): the index keys them safely."""

from __future__ import annotations

import pytest
from samx_serving.index import _label_part


@pytest.mark.parametrize("label", ["thoracic spine", "knee (lateral)", "a/p", "hüfte", "..x"])
def test_every_vocabulary_name_is_one_key_segment(label):
    part = _label_part(label)
    assert "/" not in part and " " not in part and part not in (".", "..")


def test_empty_and_overlong_labels_are_refused():
    with pytest.raises(ValueError, match="1 to 64"):
        _label_part("")
    with pytest.raises(ValueError, match="1 to 64"):
        _label_part("x" * 65)
