# One place for set-up: `make demo` and `make test` each create .venv first if needed.
VENV ?= .venv
PY := $(VENV)/bin/python
REAL_SPEECH := /usr/share/asterisk/sounds/en_US_f_Allison

.PHONY: setup real-speech browser test demo clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@# about 6 GB in the venv (torch 2.14.1 is a CUDA build); no pip cache, so the install needs no second copy.
	@# constraints.txt pins every package to one tested set, so that two machines decode, resample and fit alike.
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --no-cache-dir --upgrade pip
	$(PY) -m pip install -q --no-cache-dir -c constraints.txt torch torchvision
	$(PY) -m pip install -q --no-cache-dir -c constraints.txt -e ".[onnx,synth,serve,test]"
	@# the MLSA vocoder compiles pysptk (a C compiler and Python headers); without them all else works
	$(PY) -m pip install -q --no-cache-dir -c constraints.txt -e ".[mlsa]" || echo "note: pysptk did not build; synth --system mlsa is unavailable"
	touch $@

# The demo's real speech: 568 prompts by Allison Smith (CC-BY-SA-3.0), a Debian package.
real-speech:
	@if [ -d $(REAL_SPEECH) ]; then echo "real speech: $(REAL_SPEECH)"; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -q asterisk-core-sounds-en-wav >/dev/null 2>&1 || \
		($$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q asterisk-core-sounds-en-wav >/dev/null 2>&1) || \
		echo "could not install asterisk-core-sounds-en-wav; run the demo on your own recordings: $(VENV)/bin/spoofscan demo --real DIR"; \
	else echo "no apt-get here: run the demo on your own recordings: $(VENV)/bin/spoofscan demo --real DIR"; fi

# Headless Chromium and its driver for the page test of `spoofscan serve` (tests/test_serve_page.py); without them
# that test is skipped with the reason.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then echo "browser: $$(command -v chromium)"; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || \
		($$SUDO apt-get update -q >/dev/null 2>&1 && $$SUDO apt-get install -y -q chromium chromium-driver >/dev/null 2>&1) || \
		echo "could not install chromium and chromium-driver: the page test will be skipped"; \
	else echo "no apt-get here: install Chromium and chromedriver for the page test"; fi

test: setup
	$(PY) -m pytest -q

demo: setup real-speech
	$(VENV)/bin/spoofscan demo --force

clean:
	rm -rf $(VENV) demo-output
