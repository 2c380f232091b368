"""``make demo``'s driver: data first, both papers side by side, errors as one line."""

from __future__ import annotations

import pytest

from microexp import demo
from microexp.errors import MicroexpError


def test_a_paper_that_fails_is_one_error_naming_it(tmp_path, monkeypatch):
    """Both papers in this process (``parallel=False``) on the tiny preset, with paper B's
    reproduction failing: the demo raises one error that names it."""
    calls = []

    def fake_reproduce(paper, out, **kw):
        calls.append((paper, kw["final_model"], kw["data_dir"]))
        if paper == "atscnn":
            raise MicroexpError("no samples")
        return out / "report"

    import microexp.experiments

    monkeypatch.setattr(microexp.experiments, "reproduce", fake_reproduce)
    monkeypatch.setattr(demo, "DATASETS", ("casme2",))
    with pytest.raises(MicroexpError, match=r"paper \[B\] atscnn: no samples"):
        demo.run_demo(tmp_path, preset="tiny", parallel=False)
    assert [c[:2] for c in calls] == [("s3d", False), ("atscnn", True)]
    assert all(c[2] == tmp_path / "data" for c in calls)
    assert (tmp_path / "data" / "casme2" / "MICROEXP_SYNTHETIC.json").is_file()  # made first


def test_a_process_that_dies_is_reported_not_awaited():
    class Dead:
        exitcode = -9

        def is_alive(self):
            return False

        def join(self):
            pass

    import queue

    q = queue.Queue()
    q.put(("s3d", "r", None))
    results = demo._collect(q, [Dead(), Dead()])
    assert results[0] == ("s3d", "r", None)
    assert results[1] == ("atscnn", None, "its process ended with code -9")
