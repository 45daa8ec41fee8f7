# Two commands: `make run` starts the platform, `make test` runs the whole suite.
# Both install what they need first (Debian packages, .venv, the base image).
.PHONY: run test bootstrap lint bench

bootstrap:
	@bash scripts/bootstrap.sh

run: bootstrap
	.venv/bin/chaser server

test: bootstrap
	@bash scripts/test.sh

lint: bootstrap
	.venv/bin/ruff check chaser tests bench
	.venv/bin/ruff format --check chaser tests bench
	.venv/bin/mypy

bench: bootstrap
	for b in session_create interactive storage microvm browser; do .venv/bin/python bench/$$b.py || exit 1; done
