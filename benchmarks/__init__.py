"""asv benchmark suites of vaeac-bench (see asv.conf.json)."""
