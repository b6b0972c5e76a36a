# Two commands on a fresh machine (see README.md):
#   make        set up .venv, then run the whole pipeline (downloads CIFAR-10)
#   make test   set up .venv, then run the tests
# Offline: `make offline` builds and measures a synthetic CIFAR-format archive instead.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
SNAKEMAKE_ARGS ?=

.PHONY: run offline test tools report archive snapshot clean-results

run: $(INSTALLED)
	$(BIN)/snakemake --cores all $(SNAKEMAKE_ARGS)

offline: $(INSTALLED)
	$(BIN)/snakemake --cores all --configfile config/synthetic.yaml $(SNAKEMAKE_ARGS)

# The HTML report and the run's archive (add SNAKEMAKE_ARGS="--configfile ..." as for the run).
report: $(INSTALLED)
	$(BIN)/snakemake results/report.html --cores all $(SNAKEMAKE_ARGS)

archive: $(INSTALLED)
	$(BIN)/snakemake archive --cores all $(SNAKEMAKE_ARGS)

# Where `tools` can install what the tests need (root on Debian), a test that finds it missing
# fails rather than skips: IMGBENCH_SLURM=required makes the real-SLURM tests insist.
test: $(INSTALLED) tools
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then export IMGBENCH_SLURM=required; fi; \
	$(BIN)/pytest

# The formats' own command-line tools the tests open stores with, and the SLURM daemons the
# real-SLURM tests start (command:Debian package), installed when missing and this is root on
# Debian; elsewhere the tests needing one are skipped.
TOOLS := sqlite3:sqlite3 mdb_dump:lmdb-utils slurmctld:slurm-wlm munged:munge
tools:
	@missing=""; for pair in $(TOOLS); do \
	  command -v $${pair%%:*} >/dev/null || missing="$$missing $${pair#*:}"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	else echo "missing:$$missing; the tests that open stores with them will be skipped"; fi

# The venv is rebuilt whenever the pinned dependencies change.
$(INSTALLED): pyproject.toml requirements.lock
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "imgbench needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==26.3"
	$(BIN)/python -m pip install --quiet --constraint requirements.lock --editable ".[dev,loader]"
	touch $(INSTALLED)

# Copy one finished run's report, tables and figures into docs/benchmark/ to be committed.
snapshot:
	test -f results/tables/benchmark.md || { echo "run the pipeline first (make or make offline)"; exit 1; }
	rm -rf docs/benchmark
	mkdir -p docs/benchmark/tables docs/benchmark/figures
	cp results/tables/benchmark.md results/tables/summary.csv results/tables/disk_usage.csv docs/benchmark/tables/
	cp results/figures/*.png docs/benchmark/figures/
	cp results/provenance.json results/config.yaml docs/benchmark/

clean-results:
	rm -rf results .snakemake
