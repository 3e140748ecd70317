"""The personal_db deploy at operation level: a set left out of the description is kept
and reported."""

from __future__ import annotations

from mlsite.hosts.deploys.personal_db import params_for
from mlsite.hosts.deploys.personal_db.apply import personal_db
from tests.hosts.fakehost import DEBIAN_12, plan
from tests.storage.labrun import lab_site


def test_a_set_left_out_is_reported_and_left_running() -> None:
    site = lab_site()
    params = params_for(site, site.hosts)
    described = [s.name for s in params.sets]
    facts = {
        "OsRelease": DEBIAN_12,
        "ConfiguredSets": lambda: [*described, "sales"],
    }
    result = plan(personal_db, params, facts, host_name=params.host)
    assert result.error is None
    assert result.notices == (
        "database set sales is no longer described: its golden copy, the users' copies and "
        "their servers stay as they are, with their data",
    )
    assert "sales" not in result.all_commands  # nothing stopped, unmapped or removed


def test_no_set_left_is_still_reported() -> None:
    site = lab_site()
    params = params_for(site, site.hosts).model_copy(update={"sets": ()})
    facts = {"OsRelease": DEBIAN_12, "ConfiguredSets": lambda: ["analytics"]}
    result = plan(personal_db, params, facts, host_name=params.host)
    assert result.error is None and result.ops == []
    assert len(result.notices) == 1 and "analytics is no longer described" in result.notices[0]
