"""Committed reports regenerate byte-identically from the committed results (issue 9 item 5)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaeac_bench.tables import TABLES
from vaeac_bench.tables.render import current_results, render_all, render_readme, summarise

REPO = Path(__file__).resolve().parents[1]
GRID_TABLES = list(TABLES)  # every grid table; table 8 is rendered from results/synthetic/ below


def test_every_committed_report_regenerates_from_the_committed_results(tmp_path):
    written = render_all(REPO / "results", tmp_path, GRID_TABLES)
    assert {p.name for p in written} >= {"table01.md", "table10.md", "table10t.md", "summary.md", "timing.md",
                                         "results_long.csv"}
    differ = [p.name for p in written if p.read_bytes() != (REPO / "reports" / p.name).read_bytes()]
    assert not differ, f"stale committed reports (run `run-bench --no-run` and commit): {differ}"
    # table 8 and figure 7 come from the result files under results/synthetic/ (rendering never trains)
    from vaeac_bench.synthetic import render_table8

    table8 = render_table8(REPO / "results", tmp_path)
    differ = [p.name for p in table8 if p.read_bytes() != (REPO / "reports" / p.name).read_bytes()]
    assert not differ, f"stale committed table 8 report (run `run-bench --tables 8 --no-run`): {differ}"
    # figure 7 is drawn only once every model has a result; a committed figure must be one of those
    assert (REPO / "reports" / "figure07.png").exists() == any(p.name == "figure07.png" for p in table8)
    written += table8
    # tables 5 and 9 (issue 10) come from the image cells' records
    from vaeac_bench.tables.images import render_image_tables

    images = render_image_tables(REPO / "results", tmp_path)
    differ = [p.name for p in images if p.read_bytes() != (REPO / "reports" / p.name).read_bytes()]
    assert not differ, f"stale committed image tables (run `run-bench --tables 5,9 --no-run`): {differ}"
    written += images
    # tables 3, 4, 6, table 9's CelebA column and the PSNR figure (issue 11) come from the CelebA cells' records
    from vaeac_bench.tables.celeba import render_celeba_tables

    celeba = render_celeba_tables(REPO / "results", tmp_path)
    differ = [p.name for p in celeba if p.read_bytes() != (REPO / "reports" / p.name).read_bytes()]
    assert not differ, f"stale committed CelebA tables (run `run-bench --tables 3,4,6,9 --no-run`): {differ}"
    written += celeba
    # issue 13 §6: beyond.md and its figures come from render_all above; the index links everything rendered
    assert {"beyond.md", "figure_rates.png", "figure_ranks.png", "figure_cost.png"} <= {p.name for p in written}
    # the efficiency report (issue 12 §6) is the rendering of its committed measurement, reports/efficiency.json
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("efficiency_report", REPO / "scripts" / "efficiency_report.py")
    er = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(er)
    saved = json.loads((REPO / "reports" / "efficiency.json").read_text())
    eff = tmp_path / "efficiency.md"
    eff.write_text(er.render(saved["measured"], saved["meta"]))
    assert eff.read_bytes() == (REPO / "reports" / "efficiency.md").read_bytes(), \
        "stale committed reports/efficiency.md (run `python scripts/efficiency_report.py --render-only`)"
    written.append(eff)
    from vaeac_bench.tables.index import render_index

    index = render_index(tmp_path)
    assert index.read_bytes() == (REPO / "reports" / "index.md").read_bytes(), \
        "stale committed reports/index.md (run `run-bench --no-run --tables all` and commit)"
    written.append(index)
    assert all(p.stat().st_size < 150_000 for p in written if p.suffix == ".png" and p.name != "figure07.png")
    # every committed Markdown report is one of those regenerated here
    committed = {p.name for p in (REPO / "reports").glob("*.md")}
    assert committed <= {p.name for p in written}


def test_the_readme_generated_blocks_match_the_committed_results():
    readme = (REPO / "README.md").read_text()
    summary = summarise(current_results(REPO / "results"))
    assert "<!-- generated:findings -->\n*" in readme  # the block is filled, not empty
    assert render_readme(readme, summary) == readme, "README's generated blocks are stale: run `run-bench --no-run`"


def test_a_changed_result_makes_the_regeneration_check_fail(tmp_path):
    """The check above can fail: one altered number changes the rendered tables."""
    import json
    import shutil

    shutil.copytree(REPO / "results" / "iris", tmp_path / "results" / "iris")
    # the paper setting's file (the beyond-the-paper grid adds other settings to the same folder)
    path = next((tmp_path / "results" / "iris" / "vaeac").glob("mcar-0.5_split0_*.json"))
    record = json.loads(path.read_text())
    before = render_all(tmp_path / "results", tmp_path / "a", ["10"])[0].read_text()
    record["metrics"]["nrmse"] += 0.5
    path.write_text(json.dumps(record))
    assert render_all(tmp_path / "results", tmp_path / "b", ["10"])[0].read_text() != before


def test_the_readme_block_markers_are_required():
    with pytest.raises(ValueError, match="generated:findings"):
        render_readme("no markers here", summarise([]))
