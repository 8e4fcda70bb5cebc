# The two commands a newcomer needs: `make dev` runs the system, `make test` runs the tests.
.PHONY: dev test lint typecheck lock bench package clean

VENV := .venv/bin

dev:
	@scripts/bootstrap.sh dev
	$(VENV)/smmu dev

test:
	@scripts/bootstrap.sh
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/pytest --ignore=tests/web
	@# The browser tests in a process of their own, once the e2e stack above has stopped: a browser, a stack and
	@# the e2e stack's idle workers together are more than a 2-core machine runs well.
	$(VENV)/pytest tests/web

lint:
	@scripts/bootstrap.sh
	$(VENV)/ruff check . && $(VENV)/ruff format --check .

typecheck:
	@scripts/bootstrap.sh
	$(VENV)/mypy

# The one pinned dependency set (requirements.lock) that the venv, the images and the Lambda package (its
# third-party packages travel inside the zip) install from: regenerate it after changing pyproject.toml.
lock:
	@scripts/bootstrap.sh
	$(VENV)/uv pip compile pyproject.toml --all-extras --group whisper-no-deps --universal --python-version 3.11 \
		--custom-compile-command "make lock" --output-file requirements.lock

bench:
	@scripts/bootstrap.sh
	$(VENV)/python bench/image_pipeline.py

package:
	@scripts/bootstrap.sh
	$(VENV)/smmu package

clean:
	rm -rf .smmu build
