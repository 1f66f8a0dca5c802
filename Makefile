# Two entry points for people: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TOOLS := .tools
INSTALLED := $(VENV)/.installed
RIE := $(TOOLS)/aws-lambda-rie
CHECKOV := $(TOOLS)/checkov/bin/checkov
# The run report's test opens the page in a real headless browser: Debian's chromium, installed only when missing
# (about 100 MB once per CI machine; the test skips, saying so, where it cannot be installed).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export NO_PROXY := 127.0.0.1,localhost,$(NO_PROXY)
export no_proxy := 127.0.0.1,localhost,$(no_proxy)

.PHONY: install chromium demo test lint typecheck unit bench clean

$(INSTALLED): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $@

# The Lambda runtime interface emulator ships inside the aws-sam-cli wheel; we extract that one file.
$(RIE): | $(INSTALLED)
	$(PY) -m deploy.local.rie fetch --dest $(RIE)

# checkov pins its own python-hcl2, which shadows ours: it lives in its own venv.
$(CHECKOV):
	$(PYTHON) -m venv $(TOOLS)/checkov
	$(TOOLS)/checkov/bin/pip install --quiet "checkov>=3.2,<4"

# A failed install must not fail the build: the browser test then skips and says why.
chromium:
	command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium; } || \
		echo "chromium could not be installed: the report's browser test will skip"

install: $(INSTALLED) $(RIE) $(CHECKOV) chromium

lint: $(INSTALLED)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck: $(INSTALLED)
	$(PY) -m mypy

test: install lint typecheck
	RUNNER_CORE_SLOW=1 $(PY) -m pytest

demo: $(INSTALLED) $(RIE)
	$(VENV)/bin/runner-core local demo

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
