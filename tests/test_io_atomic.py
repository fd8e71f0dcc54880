import os
import stat

import pytest

from onfh_imaging.io._atomic import _UMASK, atomic_path


def test_atomic_output_has_normal_permissions_and_replaces_the_target(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("new")
        assert target.read_text() == "old"  # untouched until the write has finished
    assert target.read_text() == "new"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~_UMASK
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_leaves_the_target_and_no_temporary_file(tmp_path):
    target = tmp_path / "labels.nii.gz"
    target.write_bytes(b"previous")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.name.endswith(".nii.gz")  # writers that sniff the extension still work
            tmp.write_bytes(b"half")
            raise RuntimeError("disk full")
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.nii.gz"]


def test_the_temporary_name_says_which_process_writes_it(tmp_path):
    import os

    from onfh_imaging.io._atomic import is_temporary, owner_pid

    target = tmp_path / "measurements.csv"
    with atomic_path(target) as tmp:
        tmp.write_text("a,b\n")
        assert owner_pid(tmp) == os.getpid() and is_temporary(tmp)
        assert not tmp.name.endswith(".csv")  # a reader listing *.csv never takes it for a table
    assert owner_pid(target) is None and not is_temporary(target)


def test_write_json_converts_numpy_values_and_refuses_others(tmp_path):
    import json

    import numpy as np

    from onfh_imaging.io._atomic import write_json

    out = write_json(tmp_path / "sub" / "m.json", {"depth_mm": np.float32(1.5), "centre": np.array([1, 2]),
                                                   "name": "tête"}, ensure_ascii=False)
    text = out.read_text(encoding="utf-8")
    assert json.loads(text) == {"depth_mm": 1.5, "centre": [1, 2], "name": "tête"} and text.endswith("}\n")
    with pytest.raises(TypeError, match="set is not JSON serialisable"):
        write_json(tmp_path / "bad.json", {"x": {1}})
    assert not (tmp_path / "bad.json").exists() and not list(tmp_path.glob(".bad.json*"))
