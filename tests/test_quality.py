"""The shared quality block: score, review flag and reasons follow the checks."""

from onfh_imaging.quality import QualityCheck, combine


def test_failed_check_sets_review_and_reason():
    q = combine([QualityCheck("surface", True, 0.9, "surface resolved"),
                 QualityCheck("fit", False, 0.5, "fit residual 1.2 mm exceeds 0.6 mm", value=1.2, limit=0.6,
                              unit="mm", blocks_stage_iii=True)])
    assert q.needs_review
    assert q.reasons == ("fit residual 1.2 mm exceeds 0.6 mm",)
    assert abs(q.score - 0.45) < 1e-12
    assert not q.collapse_trusted
    d = q.to_dict()
    assert d["needs_review"] is True and d["checks"][1]["unit"] == "mm"
    # a failed check says why in the JSON; a passed one is its name, value and limit
    assert d["checks"][1]["reason"] == "fit residual 1.2 mm exceeds 0.6 mm" and "reason" not in d["checks"][0]
    # a reader of the JSON (the visit's verdict) sees which failed check withholds stage III
    assert d["collapse_trusted"] is False and d["checks"][1]["blocks_stage_iii"] is True
    assert "blocks_stage_iii" not in d["checks"][0]


def test_all_passed_is_trusted_and_reason_added_later():
    q = combine([QualityCheck("surface", True, 1.0, "ok")])
    assert not q.needs_review and q.collapse_trusted and q.score == 1.0
    q2 = q.with_reason("head placed by hand")
    assert q2.needs_review and q2.reasons == ("head placed by hand",) and q2.collapse_trusted
