# The two commands a newcomer needs: `make dev` runs the system, `make test` runs the tests.
.PHONY: dev test lint typecheck bench package clean

VENV := .venv/bin

dev:
	@scripts/bootstrap.sh dev
	$(VENV)/smmu dev

test:
	@scripts/bootstrap.sh
	$(VENV)/ruff check .
	$(VENV)/ruff format --check .
	$(VENV)/mypy
	$(VENV)/pytest

lint:
	@scripts/bootstrap.sh
	$(VENV)/ruff check . && $(VENV)/ruff format --check .

typecheck:
	@scripts/bootstrap.sh
	$(VENV)/mypy

bench:
	@scripts/bootstrap.sh
	$(VENV)/python bench/image_pipeline.py

package:
	@scripts/bootstrap.sh
	$(VENV)/smmu package

clean:
	rm -rf .smmu build
