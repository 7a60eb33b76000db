"""`python -m queue_workers.watcher`: the watcher process (`queue_workers.watcher.process`)."""

from queue_workers.watcher.process import main

raise SystemExit(main())
