"""The core chat tests again, on uvicorn's own WebSocket protocol: where `rapport serve` lands
when the lean path is refused (RAPPORT_LEAN_WEBSOCKETS off, or a uvicorn it does not fit)."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import uvicorn_config_kwargs
from server.settings import Settings
from tests.integration.test_chat import (  # noqa: F401  # collected here again, with the settings below
    test_agent_presence_is_seen_by_the_widget,
    test_close_and_reopen,
    test_private_notes_never_reach_the_customer,
    test_queue_and_assignment_with_two_agents,
    test_shopper_to_agent_and_back,
    test_transfer_moves_the_conversation,
    test_typing_and_read_receipts,
)
from tests.integration.test_delivery import (  # noqa: F401
    test_a_lost_broker_hint_is_recovered_from_the_store,
    test_reconnect_with_a_gap_recovers_exactly_the_gap,
    test_resend_with_the_same_client_id_is_not_doubled,
)
from tests.support.live import test_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return test_settings(tmp_path, lean_websockets=False)


@pytest.fixture(autouse=True)
def on_uvicorns_protocol(settings: Settings) -> None:
    assert uvicorn_config_kwargs(settings)["ws"] == "websockets-sansio"
