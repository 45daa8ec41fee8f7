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
	.venv/bin/python bench/session_create.py
