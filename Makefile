# The course's entry points. Only python3 (3.11 to 3.14) is needed to start: `make setup` builds .venv.
#   make lab        set up, then open JupyterLab on lectures/
#   make test       set up, then the fast tier: unit tests, build, self-check, bad inputs, and nbval
#                   (strict) over every solution notebook, one notebook per core (pytest-xdist)
#   make test-slow  the slow tier only: classroom Run All of every lecture, retraining, grading a
#                   class, JupyterLab start-up, the wheel build... (tests marked slow)
#   make test-all   both tiers (what CI runs, with make widgets)
#   make gpu-proof  every solution notebook on this machine's GPU: results/gpu/report.{md,json}
#   make execute    re-execute every solution notebook in place, print runtimes, rebuild lectures
#   make report     the same, and write results/report.{md,json} and the README's results table
#   make lectures   build lectures/ from solutions/
#   make check NB=lectures/01_rnn_basics.ipynb    self-check a student's notebook
#   make grade SUBMISSIONS=dir    grade a class: nbgrader's gradebook, each submission in a sandbox (dir/<student>/<NN_name>.ipynb)
#   make site       the course website in site/ from the notebooks' stored outputs, offline
#                   (EDITION=self-study, the default, or student); make site-test checks it in Chromium
#   make widgets    run the widget notebooks in JupyterLab in headless Chromium (Debian's chromium,
#                   driven by Playwright); screenshots in results/widgets/. Not part of make test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEACHER_STAMP := $(VENV)/.installed-teacher
BROWSER_STAMP := $(VENV)/.installed-browser
SITE_STAMP := $(VENV)/.installed-site
SITE_NODE := site_src/node_modules/.package-lock.json
EDITION ?= self-study
PORT ?= 8888
NB ?=
SUBMISSIONS ?=
GRADES ?= grades
TIMEOUT ?= 600
JOBS ?= 0
GRADE_ARGS ?=
TEST_JOBS ?= auto
NBVAL := --nbval --nbval-current-env --nbval-sanitize-with nbval_sanitize.cfg --nbval-cell-timeout=600
PYTEST_ARGS ?=
PYTEST := $(BIN)/python -m pytest -n $(TEST_JOBS) --dist loadfile --durations=15 $(PYTEST_ARGS)

.PHONY: release setup lab test test-slow test-all gpu-proof execute report lectures check grade widgets site site-test clean

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(None if (3, 11) <= sys.version_info[:2] <= (3, 14) else "the course needs Python 3.11 to 3.14 (the versions its pinned packages publish wheels for, see utils/tools/check_wheels.py), found " + sys.version.split()[0] + ": set PYTHON=python3.12 or similar")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $(STAMP)

# nbgrader, for teachers only: a second pinned file, so that the student install stays as it is
$(TEACHER_STAMP): $(STAMP) requirements-teacher.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-teacher.txt
	@touch $(TEACHER_STAMP)

# Playwright, for `make widgets` only: a third pinned file; the browser is Debian's chromium, never a download
$(BROWSER_STAMP): $(STAMP) requirements-browser.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-browser.txt
	@touch $(BROWSER_STAMP)

# Sphinx, nbsphinx and pandoc, for `make site` only: a fourth pinned file
$(SITE_STAMP): $(STAMP) requirements-site.txt
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-site.txt
	@touch $(SITE_STAMP)

# the JavaScript the site's pages load (require.js, ipywidgets' html-manager, MathJax), pinned by
# the lock file and copied into the site; npm needs the registry here, the site build does not
$(SITE_NODE): site_src/package.json site_src/package-lock.json
	cd site_src && npm ci --ignore-scripts --no-audit --no-fund
	@touch $(SITE_NODE)

setup: $(STAMP)

LAB_ARGS ?=
lab: $(STAMP)
	$(BIN)/python -m utils.tools.lab --port=$(PORT) $(LAB_ARGS)

test: $(STAMP) $(TEACHER_STAMP)
	$(PYTEST) -m "not slow" tests solutions $(NBVAL)

test-slow: $(STAMP) $(TEACHER_STAMP)
	$(PYTEST) -m slow tests

test-all: test test-slow

gpu-proof: $(STAMP)
	$(BIN)/python -m utils.tools.gpu_proof

execute: $(STAMP)
	$(BIN)/python -m utils.tools.execute
	$(BIN)/python -m utils.tools.build

report: $(STAMP)
	$(BIN)/python -m utils.tools.report
	$(BIN)/python -m utils.tools.build

lectures: $(STAMP)
	$(BIN)/python -m utils.tools.build

check: $(STAMP)
	@if [ -z "$(NB)" ]; then echo "usage: make check NB=lectures/01_rnn_basics.ipynb"; exit 2; fi
	$(BIN)/python -m utils.tools.selfcheck "$(NB)"

# the sandbox needs util-linux's unshare, prlimit and setpriv: installed with apt where missing;
# without them (or without Linux namespaces) the grader refuses in one line, unless GRADE_ARGS=--unsafe
release: $(STAMP)
	@if [ -z "$(NB)" ]; then echo "usage: make release NB=05  (the notebook handed out, 01 to 08)"; exit 2; fi
	$(BIN)/python -m utils.tools.release "$(NB)"

grade: $(TEACHER_STAMP)
	@if [ -z "$(SUBMISSIONS)" ]; then echo "usage: make grade SUBMISSIONS=dir  (dir/<student>/<NN_name>.ipynb)"; exit 2; fi
	@command -v unshare >/dev/null && command -v prlimit >/dev/null && command -v setpriv >/dev/null \
		|| { command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -qq util-linux >/dev/null; } || true
	$(BIN)/python -m utils.tools.grade "$(SUBMISSIONS)" --out "$(GRADES)" --timeout $(TIMEOUT) --jobs $(JOBS) $(GRADE_ARGS)

widgets: $(STAMP) $(BROWSER_STAMP)
	$(BIN)/python -m pytest tests_browser -rs -v

site: $(SITE_STAMP) $(SITE_NODE)
	$(BIN)/python -m utils.tools.site --edition $(EDITION)

site-test: site $(BROWSER_STAMP)
	COURSE_SITE_TEST=1 $(BIN)/python -m pytest tests_browser/test_site.py -rs -v -p no:cacheprovider

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache
