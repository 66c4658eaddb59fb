from landing.cli import main

raise SystemExit(main())
