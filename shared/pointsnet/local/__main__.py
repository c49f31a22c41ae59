"""`python -m pointsnet.local` (what `make run` starts): the whole API on 127.0.0.1:$PORT."""

from pointsnet.local.runtime import main

# Worker processes started with `spawn` import this module too; only the real main runs.
if __name__ == "__main__":
    raise SystemExit(main())
