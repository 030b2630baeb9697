from datetime import timedelta

from clinic_app import clock, create_app
from tests.conftest import app_config


def test_time_travel_moves_a_shared_clock_and_is_off_by_default(services):
    app = create_app(app_config(services, TIME_TRAVEL=True))
    try:
        runner = app.test_cli_runner()
        before = clock.now()
        assert runner.invoke(args=["time-travel", "--days", "8"]).exit_code == 0
        other_process_view = clock.OffsetClock(app.extensions["redis"])
        assert other_process_view.now() - before > timedelta(days=7, hours=23)
        assert clock.now() - before > timedelta(days=7, hours=23)
        runner.invoke(args=["time-travel", "--reset"])
    finally:
        clock.install(clock.SystemClock())
    plain = create_app(app_config(services))
    result = plain.test_cli_runner().invoke(args=["time-travel", "--days", "1"])
    assert result.exit_code != 0 and "time travel is off" in result.output


def test_time_travel_is_refused_in_production():
    from clinic_app.config import load_config

    cfg = load_config({"CLINIC_ENV": "production", "SECRET_KEY": "x", "TIME_TRAVEL": "1"})
    assert cfg["TIME_TRAVEL"] is False
