# One place for set-up: `make demo` and `make test` each create .venv first if needed.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup test demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.14.1 torchvision==0.29.1
	$(PY) -m pip install -q -e ".[onnx,test]"
	touch $@

test: setup
	$(PY) -m pytest

demo: setup
	$(VENV)/bin/spoofscan --help

clean:
	rm -rf $(VENV) demo-output
