"""The report's source: batches read by column per sensor, ahead of the consumer in a thread."""

from __future__ import annotations

import threading

import pytest

import imu.recording.reader as reader_module
from imu.recording.session import SessionReader, SessionWriter
from imu.samples import LinkEvent, Notification, NotificationColumns
from test_recording_support import SENSORS


def _session(path, interleaved: bool = True):
    """Two sensors, 40 notifications each, a link event in the middle. Interleaved: stored
    in arrival order, as the recorder does; else the lumbar ones after all the thoracic
    ones (overlapping them in time)."""
    thoracic = [Notification("thoracic", 0.01 * k, bytes([k])) for k in range(40)]
    lumbar = [Notification("lumbar", 0.005 + 0.01 * k, bytes([100 + k])) for k in range(40)]
    with SessionWriter(path, {}, SENSORS) as writer:
        writer.add_link_event("lumbar", 0.2025, "disconnected")
        if interleaved:
            writer.add_notifications(sorted(thoracic + lumbar, key=lambda n: n.host_time_s))
        else:
            writer.add_notifications(thoracic)
            writer.add_notifications(lumbar)
    return thoracic, lumbar


def _flatten(batches):
    """(per-sensor notifications in batch order, items in order with columns expanded)."""
    per_sensor: dict[str, list[Notification]] = {}
    items = []
    for batch in batches:
        for item in batch:
            if isinstance(item, NotificationColumns):
                assert len(set(item.sensor.tolist())) == 1  # one sensor per block
                block = [Notification(s, float(t), p)
                         for s, t, p in zip(item.sensor, item.host_time_s, item.payloads)]
                per_sensor.setdefault(block[0].sensor, []).extend(block)
                items += block
            else:
                items.append(item)
    return per_sensor, items


@pytest.mark.parametrize("ahead", [0, 2])
@pytest.mark.parametrize("window", [3, 7, 1000])
def test_batches_hold_every_notification_by_sensor_with_link_events_in_place(tmp_path, monkeypatch,
                                                                              ahead, window):
    path = tmp_path / "s.imu"
    thoracic, lumbar = _session(path)
    monkeypatch.setattr(reader_module, "WINDOW_ROWS", window)
    with SessionReader(path) as reader:
        per_sensor, items = _flatten(reader.iter_batches(ahead=ahead))
        assert reader.integrity.notifications_read == 80
    assert per_sensor == {"thoracic": thoracic, "lumbar": lumbar}
    event = LinkEvent("lumbar", 0.2025, "disconnected")
    assert items.count(event) == 1
    # every notification before the event in time comes before it, every later one after it
    at = items.index(event)
    assert all(n.host_time_s <= event.host_time_s for n in items[:at])
    assert all(n.host_time_s > event.host_time_s for n in items[at + 1:])


@pytest.mark.parametrize("ahead", [0, 2])
def test_each_sensor_keeps_its_order_when_stored_out_of_time_order(tmp_path, monkeypatch, ahead):
    path = tmp_path / "s.imu"
    thoracic, lumbar = _session(path, interleaved=False)
    monkeypatch.setattr(reader_module, "WINDOW_ROWS", 3)
    with SessionReader(path) as reader:
        per_sensor, items = _flatten(reader.iter_batches(ahead=ahead))
    assert per_sensor == {"thoracic": thoracic, "lumbar": lumbar}
    assert items.count(LinkEvent("lumbar", 0.2025, "disconnected")) == 1


def test_batches_from_a_start_time(tmp_path):
    path = tmp_path / "s.imu"
    thoracic, lumbar = _session(path)
    with SessionReader(path) as reader:
        per_sensor, items = _flatten(reader.iter_batches(start_s=0.3))
    assert per_sensor == {"thoracic": [n for n in thoracic if n.host_time_s >= 0.3],
                          "lumbar": [n for n in lumbar if n.host_time_s >= 0.3]}
    assert not any(isinstance(i, LinkEvent) for i in items)  # the event was before the start


def test_stopping_early_stops_the_reading_thread(tmp_path, monkeypatch):
    path = tmp_path / "s.imu"
    _session(path)
    monkeypatch.setattr(reader_module, "WINDOW_ROWS", 2)
    before = threading.active_count()
    with SessionReader(path) as reader:
        batches = reader.iter_batches(ahead=1)
        next(batches)
        batches.close()  # as the calibration's head pass does after its first minutes
        assert threading.active_count() == before
        # the reader is free again: a second read gives everything
        per_sensor, _ = _flatten(reader.iter_batches(ahead=1))
    assert sum(len(v) for v in per_sensor.values()) == 80


def test_an_error_while_reading_reaches_the_consumer(tmp_path, monkeypatch):
    path = tmp_path / "s.imu"
    _session(path)

    def broken(self, start_s):
        yield [LinkEvent("lumbar", 0.0, "connected")]
        raise reader_module.SessionFileError("the disk went away")

    monkeypatch.setattr(SessionReader, "_batches", broken)
    before = threading.active_count()
    with SessionReader(path) as reader:
        batches = reader.iter_batches(ahead=2)
        assert next(batches) == [LinkEvent("lumbar", 0.0, "connected")]
        with pytest.raises(reader_module.SessionFileError, match="disk went away"):
            next(batches)
    assert threading.active_count() == before
