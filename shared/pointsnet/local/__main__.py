"""`python -m pointsnet.local` (what `make run` starts): the whole API on 127.0.0.1:$PORT."""

# Worker processes started with `spawn` import this module too: they must get nothing from it.
if __name__ == "__main__":
    from pointsnet.local.terminal import main

    raise SystemExit(main())
