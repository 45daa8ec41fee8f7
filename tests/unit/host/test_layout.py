from __future__ import annotations

import pytest

from chaser.host.disks import _unescape
from chaser.host.errors import InvalidRequest
from chaser.host.layout import check_id


@pytest.mark.parametrize("good", ["vm1", "ses_01HX.a-b", "A" * 128])
def test_ids_that_are_safe_path_components(good: str) -> None:
    assert check_id("vm_id", good) == good


@pytest.mark.parametrize("bad", ["", "../x", "a/b", ".hidden", "-flag", "a b", "A" * 129])
def test_ids_that_are_refused(bad: str) -> None:
    with pytest.raises(InvalidRequest):
        check_id("vm_id", bad)


def test_mountinfo_unescape() -> None:
    assert _unescape(r"/tmp/with\040space\011tab") == "/tmp/with space\ttab"
    assert _unescape("/plain") == "/plain"
