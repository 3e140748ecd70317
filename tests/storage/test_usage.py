"""Storage usage report: warns at nearfull, errors at full."""

from __future__ import annotations

from mlsite.storage.usage import usage

DF = {
    "stats": {"total_bytes": 100 * 1024**3, "total_used_raw_bytes": 50 * 1024**3},
    "pools": [
        {
            "name": "rbd",
            "stats": {"stored": 1024**3, "max_avail": 10 * 1024**3, "percent_used": 0.1},
        }
    ],
}


def osd_df(*utilizations: float) -> dict[str, object]:
    return {"nodes": [{"utilization": u} for u in utilizations]}


def test_below_nearfull_is_ok() -> None:
    report = usage(DF, osd_df(50, 60), {"status": "HEALTH_OK"}, 0.75, 0.92)
    assert report.level == "ok"
    assert any("pool rbd" in line for line in report.lines)


def test_fullest_osd_above_nearfull_warns() -> None:
    report = usage(DF, osd_df(50, 80), {"status": "HEALTH_WARN"}, 0.75, 0.92)
    assert report.level == "nearfull"
    assert "stops every write" in report.lines[-1]


def test_full_osd_is_an_error() -> None:
    assert usage(DF, osd_df(93), {}, 0.75, 0.92).level == "full"
