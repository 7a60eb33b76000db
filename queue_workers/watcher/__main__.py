"""`python -m queue_workers.watcher`: the watcher process (`queue_workers.watcher.process`)."""

from queue_workers.watcher.process import main

if __name__ == "__main__":
    raise SystemExit(main())
