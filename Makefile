# Two commands: `make run` starts the platform, `make test` runs the whole suite.
# Both install what they need first (Debian packages, .venv, the base image).
.PHONY: run test bootstrap lint bench lock

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

# Re-resolves every Python dependency (runtime, dev, build) to the newest versions pyproject.toml
# allows and rewrites requirements.lock with their hashes. Review the diff, then `make test`.
lock: bootstrap
	.venv/bin/uv pip compile pyproject.toml requirements/build.in --extra dev --generate-hashes \
	  --python-version 3.11 --python-platform x86_64-manylinux_2_28 --upgrade -o requirements.lock
