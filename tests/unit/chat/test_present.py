"""A presenter that no longer fits its tool's output is logged by tool name, and the answer still shows."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from chat_ui.present import views_for


class RosterWithoutItems(BaseModel):
    total: int
    students: list[dict[str, str]]


def test_a_changed_output_shape_is_logged_with_the_tool_name_and_shown_generically(caplog):
    output = RosterWithoutItems(total=1, students=[{"name": "Ada"}])

    with caplog.at_level(logging.ERROR, logger="sis.chat"):
        views = views_for("query_roster", output)

    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "query_roster" in errors[0].getMessage() and errors[0].exc_info
    assert [v["kind"] for v in views] == ["record", "table"]
    assert views[1]["rows"] == [["Ada"]]


def test_a_fitting_output_logs_nothing(caplog):
    class Trend(BaseModel):
        points: list[dict[str, object]]

    with caplog.at_level(logging.ERROR, logger="sis.chat"):
        views = views_for("enrollment_trend", Trend(points=[]))

    assert not caplog.records
    assert views[0]["kind"] == "chart"
