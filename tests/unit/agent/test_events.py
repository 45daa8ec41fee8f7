from __future__ import annotations

import threading

from chaser.agent.process.events import EVENT_OVERHEAD, EventLog


def test_events_are_numbered_and_resume_after_a_seq() -> None:
    log = EventLog()
    log.append("stdout", "a")
    log.append("stderr", "b")
    log.finish(3)
    assert log.after(0) == [
        {"seq": 1, "type": "stdout", "data": "a"},
        {"seq": 2, "type": "stderr", "data": "b"},
        {"seq": 3, "type": "exit", "exit_code": 3},
    ]
    assert log.after(2) == [{"seq": 3, "type": "exit", "exit_code": 3}]
    assert log.after(3) == []
    assert log.append("stdout", "late") is None  # nothing after exit
    assert log.finished and log.last_seq == 3


def test_oldest_events_are_dropped_with_a_marker() -> None:
    log = EventLog(limit=3 * (10 + EVENT_OVERHEAD))
    for i in range(1, 6):
        log.append("stdout", str(i) * 10)
    got = log.after(0)
    assert got[0] == {"seq": 2, "type": "dropped", "count": 2}
    assert [e["seq"] for e in got[1:]] == [3, 4, 5]
    assert log.after(1)[0] == {"seq": 2, "type": "dropped", "count": 1}
    assert log.after(2)[0]["seq"] == 3  # nothing dropped after seq 2


def test_the_exit_event_survives_even_when_output_overflows() -> None:
    log = EventLog(limit=10)
    log.append("stdout", "x" * 100)
    log.finish(0)
    assert log.after(0)[-1]["type"] == "exit"


def test_wait_wakes_on_new_events() -> None:
    log = EventLog()
    assert not log.wait(0, timeout=0.01)
    timer = threading.Timer(0.05, log.append, args=("stdout", "x"))
    timer.start()
    assert log.wait(0, timeout=5)
    timer.join()
