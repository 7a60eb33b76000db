from queue_workers.watcher.process import main

raise SystemExit(main())
