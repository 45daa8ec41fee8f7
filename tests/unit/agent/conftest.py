from __future__ import annotations

from collections.abc import Iterator

import pytest

from .harness import FakeHost


@pytest.fixture
def host() -> Iterator[FakeHost]:
    fake = FakeHost()
    yield fake
    fake.close()
