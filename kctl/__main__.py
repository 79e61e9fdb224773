from kctl.cli import main

raise SystemExit(main())
