.PHONY: run test bench lint

run:
	scripts/run

test:
	scripts/test

bench:
	scripts/bootstrap test
	.venv/bin/python -m bench

lint:
	scripts/bootstrap test
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy carepath tests bench
