import pytest

from onfh_imaging.staging import COLLAPSE_DETECTION_MM, arco_1992, arco_2019, steinberg_extent


@pytest.mark.parametrize("depth, stage", [(1.45, "IIIA"), (2.0, "IIIA"), (2.01, "IIIB"), (2.55, "IIIB"),
                                          (6.0, "IIIB")])
def test_collapse_splits_iiia_and_iiib_at_2_mm(depth, stage):
    assert arco_2019(depth, True)[0] == stage


def test_detection_threshold_keeps_iiia_iiib_right_half_a_mm_from_the_boundary():
    assert COLLAPSE_DETECTION_MM <= 1.5
    assert arco_2019(1.5, True)[0] == "IIIA"
    assert arco_2019(2.5, True)[0] == "IIIB"


def test_collapse_below_detection_is_not_collapse():
    stage, basis = arco_2019(COLLAPSE_DETECTION_MM - 0.01, True)
    assert stage == "I-II"
    assert basis == "MRI alone cannot separate I from II; the radiograph decides"


def test_no_lesion_no_collapse_is_stage_none():
    assert arco_2019(0.0, False)[0] == "none"
    assert arco_2019(0.0, None)[0] is None


def test_radiograph_decides_between_i_and_ii():
    assert arco_2019(0.2, True, radiograph_findings=[])[0] == "I"
    assert arco_2019(0.2, True, radiograph_findings=["Sclerosis"])[0] == "II"
    assert arco_2019(0.2, True, radiograph_findings=["crescent sign"])[0] == "IIIA"


def test_osteoarthritis_is_stage_iv_whatever_the_collapse():
    assert arco_2019(5.0, True, oa_signs=True)[0] == "IV"
    assert arco_2019(0.0, True, radiograph_findings=["joint space narrowing"])[0] == "IV"


@pytest.mark.parametrize("pct, letter", [(0.0, None), (None, None), (0.1, "A"), (14.99, "A"), (15.0, "B"),
                                         (30.0, "B"), (30.01, "C"), (80.0, "C")])
def test_steinberg_extent(pct, letter):
    assert steinberg_extent(pct) == letter


@pytest.mark.parametrize("stage, pct, label", [("IIIB", 35.0, "3C"), ("IIIA", 20.0, "3B"), ("II", 5.0, "2A"),
                                               ("I-II", 16.0, "1-2B"), ("IV", 50.0, "4C"), ("none", 0.0, "0"),
                                               (None, 10.0, None)])
def test_arco_1992(stage, pct, label):
    assert arco_1992(stage, pct) == label


def test_collapse_detection_limit_follows_the_pixel_size():
    from onfh_imaging.staging import collapse_detection_mm

    assert collapse_detection_mm(0.5) == COLLAPSE_DETECTION_MM == 0.5
    assert collapse_detection_mm(1.4) == pytest.approx(0.84)
    # 0.7 mm of collapse is stage III on a fine grid, not on a coarse whole-pelvis grid
    assert arco_2019(0.7, True, collapse_detection_mm=collapse_detection_mm(0.7))[0] == "IIIA"
    assert arco_2019(0.7, True, collapse_detection_mm=collapse_detection_mm(1.4))[0] == "I-II"
    # a detection limit is never lowered below the measured floor
    assert arco_2019(0.3, True, collapse_detection_mm=0.1)[0] == "I-II"


def test_onset_check_flags_a_depth_within_its_noise_of_the_detection_limit():
    """A lesion's sub-threshold depth that its own noise floor could lift over the limit is 'I-II or IIIA'."""
    from onfh_imaging.staging import ONSET_CHECK, onset_check

    near = onset_check("I-II", 0.40, 0.5, 0.25)
    assert near.name == ONSET_CHECK and not near.passed and "I-II or IIIA" in near.reason
    assert near.value == pytest.approx(0.10) and near.limit == pytest.approx(0.25)
    assert onset_check("I-II", 0.20, 0.5, 0.15).passed  # clear of the limit by more than its noise
    assert onset_check("IIIA", 0.9, 0.5, 0.25) is None  # collapse read: the subtype check applies instead
    assert onset_check("none", 0.45, 0.5, 0.25) is None  # no lesion: nothing to stage
    # beyond the limit but staged below III (collapse evidence not confirmed): said so, not "within"
    unconfirmed = onset_check("I-II", 2.29, 0.5, 0.22)
    assert not unconfirmed.passed and "not confirmed" in unconfirmed.reason and "within" not in unconfirmed.reason
