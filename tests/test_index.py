"""``reports/index.md`` (issue 13 §6): one page linking every rendered table and figure, from the folder alone."""

from __future__ import annotations

from vaeac_bench.tables.index import render_index


def test_index_links_every_report_grouped_and_leaves_script_outputs_out(tmp_path):
    for name in ("table10.md", "table01.md", "beyond.md", "timing.md"):
        (tmp_path / name).write_text(f"# {name}\n")
    (tmp_path / "figure_ranks.png").write_bytes(b"\x89PNG")
    (tmp_path / "results_long.csv").write_text("dataset\n")
    (tmp_path / "vaeac_speed.json").write_text("{}")  # written by a script, not a report
    (tmp_path / "extra.md").write_text("intro\n# My own report\n")
    (tmp_path / ".table02.md.tmp").write_text("partial")
    text = render_index(tmp_path).read_text()
    links = [line.split("](")[0][3:] for line in text.splitlines() if line.startswith("- [")]
    assert links == ["table01.md", "table10.md", "beyond.md", "figure_ranks.png", "timing.md", "results_long.csv",
                     "extra.md"]  # the paper's tables, beyond the paper, cost, others; known files in their order
    assert "- [extra.md](extra.md): My own report" in text and "vaeac_speed" not in text and ".tmp" not in text
    assert text.index("## The paper's tables") < text.index("## Beyond the paper") < text.index("## Other reports")
    again = render_index(tmp_path).read_bytes()
    assert again == text.encode()  # the index itself is never listed, so a re-render gives the same bytes


def test_an_empty_folder_says_so(tmp_path):
    assert "No reports rendered yet." in render_index(tmp_path / "new").read_text()
