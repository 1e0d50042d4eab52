from bsnn_lib.cli import main

raise SystemExit(main())
